"""RAID's paraphrase attack: AI texts rewritten by an LLM through the synth backends.

The rewrite uses the synth stage's own paraphrase prompt (`synth/prompts/<lang>/paraphrase`),
backend, key handling and reply cleaning; only hosted backends qualify, since the offline
n-gram backend does not paraphrase. A text whose reply the synth stage would reject (refused,
truncated, empty, in another language) keeps its original, and the count of those is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tinydetect.core.config import load_params
from tinydetect.core.records import Record
from tinydetect.synth.backends import GenerationRequest, make_backend
from tinydetect.synth.cleaning import clean_reply, rejection_reason
from tinydetect.synth.planning import load_template, stable_seed


def paraphrase_texts(records: Sequence[Record], backend_name: str, params_path: Path, seed: int) -> tuple[list[str], int]:
    """Each record's text as the backend paraphrases it, in order, and how many replies were rejected."""
    config = load_params("synth", path=params_path)["synth"].model_copy(update={"backend": backend_name})
    backend = make_backend(config, [])
    rewritten, rejected = [], 0
    for record in records:
        template = load_template(record.lang, "paraphrase")
        request = GenerationRequest(
            source_id=record.id, source_text=record.text, lang=record.lang, strategy="paraphrase", style=None,
            prompt=template.render(record.text, None), temperature=config.temperature,
            seed=stable_seed(seed, record.id, "paraphrase-attack"))
        reply = backend.generate(request)
        cleaned = clean_reply(reply.text)
        usable = rejection_reason(reply, cleaned, record.lang) is None
        rewritten.append(cleaned if usable else record.text)
        rejected += not usable
    return rewritten, rejected
