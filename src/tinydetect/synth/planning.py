"""What synth will ask for: which human text gets which strategy and style, and the versioned prompt for it.

The plan depends only on the params, the seed and the source ids, so the same inputs ask for
the same texts on every run (and hit the request cache).
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from tinydetect.core.config import SynthConfig
from tinydetect.core.records import Record
from tinydetect.synth.backends import GenerationRequest

PROMPT_VERSION = "v1"
PROMPT_LANGS = ("en", "ko")


@dataclass(frozen=True)
class PromptTemplate:
    template_id: str  # e.g. "ko/paraphrase.v1"
    sha256: str
    text: str

    def render(self, source_text: str, style: str | None) -> str:
        return self.text.format(text=source_text, style=style or "", words=len(source_text.split()))


@functools.cache  # one file read per language and strategy, not one per planned text
def load_template(lang: str, strategy: str) -> PromptTemplate:
    """The versioned prompt for a language (English for languages without their own)."""
    prompt_lang = lang if lang in PROMPT_LANGS else "en"
    name = f"{strategy}.{PROMPT_VERSION}.txt"
    text = resources.files("tinydetect.synth").joinpath("prompts", prompt_lang, name).read_text(encoding="utf-8")
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
