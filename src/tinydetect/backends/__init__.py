"""Text generators behind one small interface, so the synth stage never knows which one runs.

A backend turns a `GenerationRequest` into the reply text. Hosted backends send
`request.prompt`; the offline backend reads the source text and strategy directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tinydetect.config import SynthConfig
from tinydetect.records import Record


@dataclass(frozen=True)
class GenerationRequest:
    source_id: str
    source_text: str
    lang: str
    strategy: str
    style: str | None
    prompt: str
    temperature: float
    seed: int


class Backend(Protocol):
    name: str
    model: str

    def generate(self, request: GenerationRequest) -> str: ...


def make_backend(config: SynthConfig, human_records: Sequence[Record]) -> Backend:
    """The backend named in `synth.backend`; the offline one learns from `human_records`."""
    if config.backend == "offline":
        from tinydetect.backends.offline import NgramBackend

        return NgramBackend.fit(human_records, config.offline)
    raise ValueError(f"synth.backend: unknown backend {config.backend!r}")
