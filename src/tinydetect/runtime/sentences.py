"""Which part of a text reads as AI: a score for each sentence (`tinydetect predict --sentences`, the extension).

Three ways to score a sentence, compared on documents whose sentences have known authors
(`benchmarks/sentences.py`, results in `benchmarks/results/sentences_<data>.json`):

- `window`: P(AI) of the sentence read with its neighbours (`WINDOW` sentences on each side), so a short sentence
  is not judged on a handful of words; the default, the best of the three on the mixed documents (sentence-level
  ROC-AUC 0.832 on L2R, 0.932 on KatFish, against 0.811 and 0.914 alone, 0.817 and 0.902 left out).
- `alone`: P(AI) of the sentence by itself.
- `leave_out`: how much the document's P(AI) falls when the sentence is removed (positive: it pushed the document
  towards AI). Not a probability; it says which sentences the document's own label rests on.

Every method scores at most `MAX_SENTENCES` sentences of the part of the text the model reads (`MAX_TEXT_CHARS`),
so a long input costs a bounded number of model calls.
"""

from __future__ import annotations

from collections.abc import Sequence

from tinydetect.core.sentences import sentence_spans

METHODS = ("window", "alone", "leave_out")
WINDOW = 1  # neighbours on each side
MAX_SENTENCES = 256


def windows(text: str, spans: Sequence[tuple[int, int]], width: int = WINDOW) -> list[str]:
    """Each sentence with `width` sentences before and after it, as they stand in the text.

        >>> text = "One. Two. Three."
        >>> windows(text, [(0, 4), (5, 9), (10, 16)])
        ['One. Two.', 'One. Two. Three.', 'Two. Three.']
    """
    last = len(spans) - 1
    return [text[spans[max(0, i - width)][0]:spans[min(last, i + width)][1]] for i in range(len(spans))]


def without_each(text: str, spans: Sequence[tuple[int, int]]) -> list[str]:
    """The text with one sentence removed, for each sentence."""
    return [(text[:start] + text[end:]).strip() for start, end in spans]


def sentence_scores(scorer, text: str, method: str = "window", max_chars: int | None = None) -> list[dict]:
    """`[{"start", "end", "p_ai"}]` (`"drop"` in place of `"p_ai"` for `leave_out`), offsets in code points of `text`.

    `scorer` is anything with `probability_ai(texts)` (runtime.scorers.Scorer); `max_chars` bounds the part of the
    text that is split (the model reads no further)."""
    if method not in METHODS:
        raise ValueError(f"sentence method {method!r}: one of {', '.join(METHODS)}")
    read = text if max_chars is None else text[:max_chars]
    spans = sentence_spans(read)[:MAX_SENTENCES]
    if not spans:
        return []
    if method == "leave_out":
        document, *rest = scorer.probability_ai([read, *without_each(read, spans)])
        return [{"start": start, "end": end, "drop": round(float(document - left), 6)}
                for (start, end), left in zip(spans, rest, strict=True)]
    pieces = windows(read, spans) if method == "window" else [read[start:end] for start, end in spans]
    p_ai = scorer.probability_ai(pieces)
    return [{"start": start, "end": end, "p_ai": round(float(probability), 6)}
            for (start, end), probability in zip(spans, p_ai, strict=True)]
