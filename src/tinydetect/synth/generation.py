"""Write AI-labelled texts from the HUMAN ones, with provenance on every sample."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from tinydetect.core.config import SynthConfig
from tinydetect.core.records import Record
from tinydetect.synth.backends import Backend, Reply
from tinydetect.synth.calls import CallPlan, CallStats, RateLimiter, RequestCache, run_requests
from tinydetect.synth.cleaning import clean_reply, rejection_reason
from tinydetect.synth.planning import PlannedSample, PromptTemplate, build_request, plan_samples


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
        limiter=RateLimiter(config.server.requests_per_minute, config.server.tokens_per_minute) if config.server else None,
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
    server = config.server
    return (server.usd_per_million_input_tokens, server.usd_per_million_output_tokens) if server else (0.0, 0.0)
