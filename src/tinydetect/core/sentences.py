"""Sentences of a text, by one rule that Python and the browser share (web/src/sentences.ts, line for line).

A sentence ends after a run of sentence-final marks (`. ! ? …` and the full-width `。！？`), with any closing
quotes or brackets after them, where whitespace or the end of the text follows; a line break ends one too (blog
posts put titles, list items and captions on lines of their own). Each span is trimmed of whitespace, and empty
ones are dropped.

It is a rule, not a model: "Mr. Smith" is cut after "Mr.", and a Korean sentence without a final mark runs on to
the next mark or line. ICU's sentence breaker (the browser's `Intl.Segmenter`) knows abbreviations, but Python has
no ICU without a compiled extension, and the per-sentence scores must mean the same thing on every surface.

    >>> text = "Hi there. It rained! 비가 왔다.\\n\\nNew line"
    >>> [text[start:end] for start, end in sentence_spans(text)]
    ['Hi there.', 'It rained!', '비가 왔다.', 'New line']
"""

from __future__ import annotations

import re

# \Z and not $: Python's $ also matches before a final "\n"; JavaScript's $ (without the m flag) only at the end
SENTENCE_END = re.compile(r"[.!?\u2026\u3002\uff01\uff1f]+[\"'\u201d\u2019)\]\u300d\u300f]*(?=\s|\Z)|\n")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """`(start, end)` of each sentence, in code points, in order; `text[start:end]` is the sentence."""
    spans, start = [], 0
    for boundary in SENTENCE_END.finditer(text):
        _add_trimmed(spans, text, start, boundary.end())
        start = boundary.end()
    _add_trimmed(spans, text, start, len(text))
    return spans


def _add_trimmed(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    leading = len(piece) - len(piece.lstrip())
    trailing = len(piece) - len(piece.rstrip())
    if leading < len(piece):
        spans.append((start + leading, end - trailing))


def sentences(text: str) -> list[str]:
    """The sentences themselves (`sentence_spans`' slices)."""
    return [text[start:end] for start, end in sentence_spans(text)]
