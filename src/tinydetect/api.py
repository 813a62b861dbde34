"""The Python API: score texts with a detector the pipeline made, from the lean install (`pip install tinydetect`:
ONNX Runtime, SentencePiece and NumPy, no torch).

    from tinydetect.api import load
    detector = load("models/onnx/pruned/model_int8.onnx")   # any variant `tinydetect predict` takes
    detector.score(["The river rose after the rain.", "..."])
    # [{"p_ai": 0.03, "label": "HUMAN", "reason": None, "obfuscated": False, "invisible_characters": 0,
    #   "mixed_script_words": 0}, ...]

Each row has the fields `tinydetect predict` writes (less the input's `id`), made by the same function: P(AI), the
label (AI, HUMAN or UNSURE) by the cuts in the model's `detector.json`, why UNSURE, and what the tokenizer's
normalization had to undo. A PyTorch folder or a Core ML package needs the `[train]` or `[coreml]` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tinydetect.robustness.obfuscation import obfuscation
from tinydetect.runtime.sentences import sentence_scores

# What is scored of each text. Every model reads at most 512 tokens and a SentencePiece piece spans at most 16
# characters, so 8,192 characters reach any model's last token; four times that leaves room for characters the
# normalization removes (invisible ones). The obfuscation counts are over the same prefix.
MAX_TEXT_CHARS = 32_768


def score_rows(scorer, texts: Sequence[str], sentences: str | None = None) -> list[dict]:
    """One row per text: `p_ai`, `label`, `reason` and the obfuscation counts (predict's fields, less `id`); with
    `sentences` (a method of `runtime.sentences`), each sentence's span and score too."""
    texts = [text[:MAX_TEXT_CHARS] for text in texts]  # what no model reads is never tokenized
    p_ai = scorer.probability_ai(texts) if texts else []
    labels = scorer.threshold.labels(p_ai, texts)  # the cuts of each text's language, and UNSURE's reason
    rows = [{"p_ai": round(float(probability), 6), "label": label, "reason": reason, **obfuscation(text)}
            for text, probability, (label, reason) in zip(texts, p_ai, labels, strict=True)]
    if sentences is not None:
        for row, text in zip(rows, texts, strict=True):
            row["sentences"] = sentence_scores(scorer, text, sentences)
    return rows


class LoadedDetector:
    """A detector variant with its tokenizer and cuts, ready to score (`load`)."""

    def __init__(self, scorer):
        self.scorer = scorer

    @property
    def threshold(self):
        """The cuts on P(AI) (`decision.threshold.Threshold`), as in the model's `detector.json`."""
        return self.scorer.threshold

    def score(self, texts: Sequence[str] | str, sentences: str | None = None) -> list[dict]:
        """Score a list of texts (or one text, as a list of one row); `sentences="window"` adds each sentence's
        span (code points) and P(AI) (`tinydetect.runtime.sentences` has the methods)."""
        if isinstance(texts, str):
            texts = [texts]
        return score_rows(self.scorer, list(texts), sentences)


def load(path: str | Path, threads: int | None = None) -> LoadedDetector:
    """Open a variant the pipeline made: an `.onnx` file (the lean install), a PyTorch folder, a Core ML package.

    Raises `tinydetect.core.errors.UserError` naming the file when it is missing or unreadable."""
    from tinydetect.runtime.scorers import load_scorer  # ONNX Runtime loads when a model is asked for

    return LoadedDetector(load_scorer(path, threads=threads))
