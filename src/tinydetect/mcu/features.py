"""Hashed character n-grams: the microcontroller model's input, computed the same way here and in C.

A text is read as Unicode code points (the C code decodes UTF-8 as it streams) and normalized by a
subset of the tokenizer's rules small enough for an ATmega328P: the invisible characters that
`modeling.normalization` removes are dropped, every whitespace character becomes one space (runs
collapse to one), and ASCII capitals become lower case. Look-alike letters are not mapped (19,000
rules do not fit in 32 KB of flash; `tinydetect predict` flags them on a host).

The normalized text, with one space added at each end, is cut into overlapping windows of `n` code
points. Each window is hashed with 32-bit FNV-1a over 3 bytes per code point (little-endian, enough
for U+10FFFF), and the bucket is the hash modulo the bucket count. The input to the MLP is one byte
per bucket: the bucket's count relative to an even spread over the buckets, in sixteenths, capped at
255 (sixteen times the even share):

    feature[b] = min(255, count[b] * buckets * 16 // windows)

>>> normalized_code_points("Hi\u200b  there")
[32, 104, 105, 32, 116, 104, 101, 114, 101, 32]
>>> fnv1a_window([32, 104, 105])
168799732
>>> int(hashed_counts("Hi there", 3, 128).sum())  # windows: " hi", "hi ", "i t", ..., "re "
8
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import numpy as np

from tinydetect.modeling.normalization import is_removed

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
FEATURE_SCALE = 16  # feature units per even share of a bucket
FEATURE_MAX = 255
_SPACES = re.compile(" +")


def _is_space(character: str) -> bool:
    return character.isspace() or unicodedata.category(character) in ("Zs", "Zl", "Zp")


def _ranges(predicate) -> tuple[tuple[int, int], ...]:
    """Maximal runs of code points for which `predicate` holds (surrogates excluded)."""
    ranges, start = [], None
    for code_point in range(0x110000):
        holds = not 0xD800 <= code_point <= 0xDFFF and predicate(chr(code_point))
        if holds and start is None:
            start = code_point
        elif not holds and start is not None:
            ranges.append((start, code_point - 1))
            start = None
    return tuple(ranges)


@cache
def removed_ranges() -> tuple[tuple[int, int], ...]:
    """Code points dropped: `modeling.normalization.is_removed`, as ranges for the C table."""
    return _ranges(is_removed)


@cache
def space_ranges() -> tuple[tuple[int, int], ...]:
    """Code points read as a space (what the tokenizer's normalization turns into one)."""
    return _ranges(lambda character: not is_removed(character) and _is_space(character))


@cache
def _translation() -> dict[int, str | None]:
    table: dict[int, str | None] = {code: chr(code + 32) for code in range(ord("A"), ord("Z") + 1)}
    for first, last in removed_ranges():
        table.update(dict.fromkeys(range(first, last + 1)))
    for first, last in space_ranges():
        table.update(dict.fromkeys(range(first, last + 1), " "))
    return table


def normalized_code_points(text: str) -> list[int]:
    """The code points the n-grams are cut from: normalized, one space at each end, no run of spaces."""
    return [ord(character) for character in _SPACES.sub(" ", f" {text.translate(_translation())} ")]


def fnv1a_window(code_points: list[int]) -> int:
    """32-bit FNV-1a over each code point's 3 little-endian bytes (the loop the C code runs)."""
    value = FNV_OFFSET
    for code_point in code_points:
        for shift in (0, 8, 16):
            value = ((value ^ ((code_point >> shift) & 0xFF)) * FNV_PRIME) & 0xFFFFFFFF
    return value


def window_hashes(code_points: list[int], n: int) -> np.ndarray:
    """fnv1a_window of every window of n code points, vectorized over windows; shape (windows,), uint32."""
    points = np.asarray(code_points, dtype=np.uint32)
    windows = len(points) - n + 1
    if windows <= 0:
        return np.zeros(0, dtype=np.uint32)
    values = np.full(windows, FNV_OFFSET, dtype=np.uint32)
    for offset in range(n):
        column = points[offset:offset + windows]
        for shift in (0, 8, 16):
            values = (values ^ ((column >> np.uint32(shift)) & np.uint32(0xFF))) * np.uint32(FNV_PRIME)
    return values


def hashed_counts(text: str, n: int, buckets: int) -> np.ndarray:
    """How many of the text's n-gram windows fall in each bucket; shape (buckets,), int64."""
    hashes = window_hashes(normalized_code_points(text), n)
    return np.bincount(hashes % np.uint32(buckets), minlength=buckets).astype(np.int64)


def features(text: str, n: int, buckets: int) -> np.ndarray:
    """The MLP's input bytes for one text; shape (buckets,), uint8 (see the module docstring)."""
    counts = hashed_counts(text, n, buckets)
    windows = int(counts.sum())
    if not windows:
        return np.zeros(buckets, dtype=np.uint8)
    saturated = np.minimum(counts, 0xFFFF)  # the C counters are 16 bits; its window count is 32
    return np.minimum(saturated * buckets * FEATURE_SCALE // windows, FEATURE_MAX).astype(np.uint8)


def feature_matrix(texts: list[str], n: int, buckets: int) -> np.ndarray:
    """features() of every text; shape (texts, buckets), uint8."""
    return np.stack([features(text, n, buckets) for text in texts]) if texts else np.zeros((0, buckets), np.uint8)
