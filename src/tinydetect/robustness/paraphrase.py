"""RAID's paraphrase attack: AI texts rewritten by an LLM through the synth backends.

The rewrite uses the synth stage's own paraphrase prompt (`synth/prompts/<lang>/paraphrase`),
backend, retries and key handling; only hosted backends qualify, since the offline n-gram
backend does not paraphrase. A text whose reply is empty or blocked keeps its original.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tinydetect.core.config import load_params
from tinydetect.core.records import Record
from tinydetect.synth.backends import GenerationRequest, make_backend
from tinydetect.synth.planning import load_template, stable_seed


def paraphrase_texts(records: Sequence[Record], backend_name: str, params_path: Path, seed: int) -> list[str]:
    """Each record's text as the backend paraphrases it, in order."""
    config = load_params("synth", path=params_path)["synth"].model_copy(update={"backend": backend_name})
    backend = make_backend(config, [])
    rewritten = []
    for record in records:
        template = load_template(record.lang, "paraphrase")
        request = GenerationRequest(
            source_id=record.id, source_text=record.text, lang=record.lang, strategy="paraphrase", style=None,
            prompt=template.render(record.text, None), temperature=config.temperature,
            seed=stable_seed(seed, record.id, "paraphrase-attack"))
        reply = backend.generate(request)
        rewritten.append(reply.text.strip() if reply.finish == "stop" and reply.text.strip() else record.text)
    return rewritten
