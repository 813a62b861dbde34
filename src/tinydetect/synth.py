"""Write AI-labelled texts from the HUMAN ones, with provenance on every sample."""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

from tqdm import tqdm

from tinydetect.backends import Backend, GenerationRequest, Reply
from tinydetect.cleaning import clean_reply, rejection_reason
from tinydetect.config import SynthConfig
from tinydetect.llm_calls import CallPlan, CallStats, RateLimiter, RequestCache, run_requests
from tinydetect.records import Record

PROMPT_VERSION = "v1"
PROMPT_LANGS = ("en", "ko")


@dataclass(frozen=True)
class PromptTemplate:
    template_id: str  # e.g. "ko/paraphrase.v1"
    sha256: str
    text: str

    def render(self, source_text: str, style: str | None) -> str:
        return self.text.format(text=source_text, style=style or "", words=len(source_text.split()))


def load_template(lang: str, strategy: str) -> PromptTemplate:
    """The versioned prompt for a language (English for languages without their own)."""
    prompt_lang = lang if lang in PROMPT_LANGS else "en"
    name = f"{strategy}.{PROMPT_VERSION}.txt"
    text = resources.files("tinydetect").joinpath("prompts", prompt_lang, name).read_text(encoding="utf-8")
    return PromptTemplate(
        template_id=f"{prompt_lang}/{strategy}.{PROMPT_VERSION}",
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        text=text,
    )


def stable_seed(*parts: object) -> int:
    """A seed that is the same on every run and machine (unlike `hash()`)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class PlannedSample:
    source: Record
    strategy: str
    style: str | None
    variation: int


def plan_samples(humans: Sequence[Record], config: SynthConfig, seed: int) -> list[PlannedSample]:
    """Which source gets which strategy: `multiplier` per source, or `target_size` in all.

    With `target_size`, sources are taken round-robin so every source is used before
    any is used twice.
    """
    if not humans:
        return []
    total = config.target_size if config.target_size is not None else config.multiplier * len(humans)
    strategies = sorted(config.strategies)
    weights = [config.strategies[name] for name in strategies]
    plan = []
    for index in range(total):
        source = humans[index % len(humans)]
        variation = index // len(humans)
        rng = random.Random(stable_seed(seed, source.id, variation))
        strategy = rng.choices(strategies, weights=weights, k=1)[0]
        style = rng.choice(config.styles) if strategy == "style_transfer" else None
        plan.append(PlannedSample(source, strategy, style, variation))
    return plan


def build_request(planned: PlannedSample, config: SynthConfig, seed: int) -> tuple[GenerationRequest, PromptTemplate]:
    template = load_template(planned.source.lang, planned.strategy)
    request = GenerationRequest(
        source_id=planned.source.id,
        source_text=planned.source.text,
        lang=planned.source.lang,
        strategy=planned.strategy,
        style=planned.style,
        prompt=template.render(planned.source.text, planned.style),
        temperature=config.temperature,
        seed=stable_seed(seed, planned.source.id, planned.strategy, planned.variation),
    )
    return request, template


def ai_record(planned: PlannedSample, reply: str, backend: Backend, template: PromptTemplate, config: SynthConfig,
              reply_date: str | None = None) -> dict:
    """One AI sample with its provenance; `reply_date` is when a hosted backend answered (None offline)."""
    source = planned.source
    row = {
        "id": f"{source.id}~{planned.strategy}~{planned.variation}",
        "text": reply,
        "label": "AI",
        "group": source.group,
        "lang": source.lang,
        "provenance": {
            "backend": backend.name,
            "model": backend.model,
            "strategy": planned.strategy,
            "style": planned.style,
            "template_id": template.template_id,
            "template_sha256": template.sha256,
            "temperature": config.temperature,
            "source_id": source.id,
            "group": source.group,
            "date": reply_date,
        },
    }
    if source.domain is not None:
        row["domain"] = source.domain
    return row


@dataclass
class SynthResult:
    samples: list[dict]
    rejected: Counter
    stats: CallStats = field(default_factory=CallStats)
    wall_time_s: float = 0.0
    usd_per_million_tokens: tuple[float, float] = (0.0, 0.0)  # input, output

    def by_strategy(self) -> dict[str, list[dict]]:
        grouped: dict[str, list[dict]] = {}
        for sample in self.samples:
            grouped.setdefault(sample["provenance"]["strategy"], []).append(sample)
        return grouped

    def summary(self) -> dict:
        stats = self.stats
        input_price, output_price = self.usd_per_million_tokens
        cost = (stats.input_tokens * input_price + stats.output_tokens * output_price) / 1e6
        return {
            "generated": len(self.samples),
            **{f"generated_{name}": len(rows) for name, rows in sorted(self.by_strategy().items())},
            "rejected": sum(self.rejected.values()),
            **{f"rejected_{reason}": count for reason, count in sorted(self.rejected.items())},
            "requests_sent": stats.sent,
            "cache_hits": stats.cached,
            "retries": stats.retries,
            **{f"retries_{reason}": count for reason, count in sorted(stats.retry_reasons.items())},
            "input_tokens": stats.input_tokens,
            "output_tokens": stats.output_tokens,
            "estimated_cost_usd": round(cost, 4),
            "wall_time_s": round(self.wall_time_s, 2),
            "requests_per_s": round(stats.sent / self.wall_time_s, 2) if self.wall_time_s and stats.sent else 0.0,
        }


def synthesize(humans: Sequence[Record], config: SynthConfig, backend: Backend, seed: int,
               cache: RequestCache | None = None, secret: str | None = None) -> SynthResult:
    """Generate, clean and vet the planned samples, `config.workers` requests at a time.

    Samples come out in plan order whatever order the replies arrive in, so the same
    params and cache give the same file.
    """
    planned = plan_samples(humans, config, seed)
    built = [build_request(sample, config, seed) for sample in planned]
    rejected: Counter = Counter()
    vetted: list[tuple[str, str | None]] = [("", None)] * len(planned)  # (clean text, rejection reason) by index
    progress = tqdm(total=len(planned), desc=f"synth ({backend.name})", unit="text", smoothing=0.1)

    def on_reply(index: int, reply: Reply) -> None:
        text = clean_reply(reply.text)
        reason = rejection_reason(reply, text, planned[index].source.lang)
        vetted[index] = (text, reason)
        with progress.get_lock():
            if reason:
                rejected[reason] += 1
            progress.set_postfix(rejected=sum(rejected.values()), refresh=False)
            progress.update(1)

    call_plan = CallPlan(
        backend=backend, settings=reply_settings(config), cache=cache if backend.cacheable else None,
        limiter=RateLimiter(config.requests_per_minute, config.tokens_per_minute),
        workers=config.workers, max_retries=config.max_retries, secret=secret,
    )
    started = time.perf_counter()
    try:
        _, dates, stats = run_requests([request for request, _ in built], call_plan, on_reply)
    finally:
        progress.close()
    samples = [
        ai_record(sample, text, backend, template, config, reply_date)
        for sample, (_, template), (text, reason), reply_date in zip(planned, built, vetted, dates, strict=True)
        if reason is None
    ]
    if call_plan.cache is not None:
        call_plan.cache.compact()
    prices = _prices(config)
    return SynthResult(samples, rejected, stats, time.perf_counter() - started, prices)


def reply_settings(config: SynthConfig) -> dict:
    """Sampling settings beyond temperature and seed that shape a reply (part of its cache key)."""
    settings = {"top_p": config.top_p, "max_output_tokens": config.max_output_tokens}
    if config.backend == "gemini":
        settings["safety_settings"] = config.gemini.safety_settings
    return settings


def _prices(config: SynthConfig) -> tuple[float, float]:
    server = {"gemini": config.gemini, "openai_compatible": config.openai_compatible}.get(config.backend)
    return (server.usd_per_million_input_tokens, server.usd_per_million_output_tokens) if server else (0.0, 0.0)
