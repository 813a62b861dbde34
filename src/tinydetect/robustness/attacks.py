"""The offline evasion attacks of the RAID benchmark (Dugan et al., ACL 2024), seeded.

Each attack follows the paper's definition and its default strength (`RAID_STRENGTH`);
`raid-bench`'s wheel carries the scorer only, so they are written here. Two departures,
both for running offline: sentences are split by a regular expression (RAID uses NLTK's
Punkt model, a download), and misspellings pick their words at random (RAID picks the
words GPT-2 finds most likely). Word lists come from maintained packages: codespell's
dictionary of common misspellings (inverted: a word -> its misspellings) and breame's
American -> British spellings. Not here: `synonym` (RAID's needs WordNet and a BERT model)
and `paraphrase` (an LLM: benchmarks.robustness runs it through the synth backends).

>>> attack("Hello world, the end.", "zero_width_space", seed=0).count("\\u200b")
21
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable

from tinydetect.core.config import CHARACTER_LEVEL_ATTACKS, WORD_LEVEL_ATTACKS

HOMOGLYPHS = {  # RAID's table: Latin letters -> Cyrillic and Greek look-alikes
    "a": "а", "A": "АΑ", "B": "ВΒ", "e": "е", "E": "ЕΕ", "c": "с", "p": "р", "K": "КΚ", "O": "ОΟ",
    "P": "РΡ", "M": "МΜ", "H": "НΗ", "T": "ТΤ", "X": "ХΧ", "C": "С", "y": "у", "o": "о", "x": "х",
    "I": "ІΙ", "i": "і", "N": "Ν", "Z": "Ζ",
}
RAID_STRENGTH = {  # the share of candidates each attack edits, as RAID's generation runs them
    "zero_width_space": 1.0, "homoglyph": 1.0, "whitespace": 0.2, "upper_lower": 0.05,
    "article_deletion": 0.5, "number": 0.5, "insert_paragraphs": 0.5, "misspelling": 0.2,
    "alternative_spelling": 1.0,
}
CHARACTER_LEVEL, WORD_LEVEL = CHARACTER_LEVEL_ATTACKS, WORD_LEVEL_ATTACKS  # the names `train.augment_attacks` allows
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+")
_WORD = re.compile(r"[^\W\d_]+")


def zero_width_space(text: str, rng: random.Random, strength: float) -> str:
    """A U+200B after a share of the characters (all of them at RAID's strength)."""
    chosen = set(rng.sample(range(len(text)), int(len(text) * strength)))
    return "".join(character + ("\u200b" if index in chosen else "") for index, character in enumerate(text))


def homoglyph(text: str, rng: random.Random, strength: float) -> str:
    """Latin letters replaced by Cyrillic or Greek look-alikes (a share of those that have one)."""
    candidates = [index for index, character in enumerate(text) if character in HOMOGLYPHS]
    characters = list(text)
    for index in rng.sample(candidates, int(len(candidates) * strength)):
        characters[index] = rng.choice(HOMOGLYPHS[characters[index]])
    return "".join(characters)


def whitespace(text: str, rng: random.Random, strength: float) -> str:
    """An extra space after a share of the space-separated tokens (chosen with replacement)."""
    tokens = text.split(" ")
    for index in rng.choices(range(len(tokens)), k=int(len(tokens) * strength)):
        tokens[index] += " "
    return " ".join(tokens)


def upper_lower(text: str, rng: random.Random, strength: float) -> str:
    """The case of the first letter of a share of the words flipped."""
    starts = [match.start() for match in _WORD.finditer(text)]
    characters = list(text)
    for index in rng.sample(starts, int(len(starts) * strength)):
        character = characters[index]
        characters[index] = character.lower() if character.isupper() else character.upper()
    return "".join(characters)


def article_deletion(text: str, rng: random.Random, strength: float) -> str:
    """A share of the articles " a ", " an ", " the " deleted (the space before them stays)."""
    spans = [match.span() for match in re.finditer(r"(?<= )(?:a|an|the)(?= )", text)]
    for start, end in sorted(rng.sample(spans, int(len(spans) * strength)), reverse=True):
        text = text[:start] + text[end + 1 :]
    return text


def number(text: str, rng: random.Random, strength: float) -> str:
    """The digits of a share of the numbers replaced by random digits (same length)."""
    characters = list(text)
    spans = [match.span() for match in re.finditer(r"\d+\.?\d*", text)]
    for start, end in rng.sample(spans, int(len(spans) * strength)):
        for index in range(start, end):
            if characters[index].isdigit():
                characters[index] = rng.choice("0123456789")
    return "".join(characters)


def insert_paragraphs(text: str, rng: random.Random, strength: float) -> str:
    """A blank line before a share of the sentences (not the first)."""
    sentences = _SENTENCE_END.split(text)
    for index in rng.sample(range(1, len(sentences)), int((len(sentences) - 1) * strength)):
        sentences[index] = "\n\n" + sentences[index]
    return " ".join(sentences)


def _replace_words(text: str, rng: random.Random, count_of: Callable[[int, int], int],
                   replacement: Callable[[str], list[str] | None]) -> str:
    """Replace some words that have a replacement; the match keeps a capital first letter."""
    words = list(_WORD.finditer(text))
    candidates = [match for match in words if replacement(match.group().lower())]
    chosen = sorted(rng.sample(candidates, min(count_of(len(words), len(candidates)), len(candidates))),
                    key=lambda match: match.start(), reverse=True)
    for match in chosen:
        new = rng.choice(replacement(match.group().lower()))
        new = new[:1].upper() + new[1:] if match.group()[:1].isupper() else new
        text = text[: match.start()] + new + text[match.end() :]
    return text


def misspelling(text: str, rng: random.Random, strength: float) -> str:
    """A share of all words (as many as have one) replaced by a common misspelling of them."""
    return _replace_words(text, rng, lambda words, _: int(words * strength), _misspellings().get)


def alternative_spelling(text: str, rng: random.Random, strength: float) -> str:
    """A share of the words with a British spelling (all at RAID's strength) respelled."""
    return _replace_words(text, rng, lambda _, candidates: int(candidates * strength),
                          lambda word: [british] if (british := _british().get(word)) else None)


@functools.cache
def _misspellings() -> dict[str, list[str]]:
    """codespell's dictionary ("misspelling->correction, ...") inverted to word -> misspellings."""
    from importlib import resources

    inverted: dict[str, list[str]] = {}
    dictionary = resources.files("codespell_lib").joinpath("data", "dictionary.txt").read_text(encoding="utf-8")
    for line in dictionary.splitlines():
        wrong, _, corrections = line.partition("->")
        for correction in corrections.split(","):
            correction = correction.strip()
            if correction.isalpha() and wrong.isalpha():
                inverted.setdefault(correction.lower(), []).append(wrong.lower())
    return inverted


@functools.cache
def _british() -> dict[str, str]:
    from breame.data.spelling_constants import AMERICAN_ENGLISH_SPELLINGS

    return dict(AMERICAN_ENGLISH_SPELLINGS)


ATTACKS: dict[str, Callable[[str, random.Random, float], str]] = {
    "zero_width_space": zero_width_space, "homoglyph": homoglyph, "whitespace": whitespace,
    "upper_lower": upper_lower, "article_deletion": article_deletion, "number": number,
    "insert_paragraphs": insert_paragraphs, "misspelling": misspelling, "alternative_spelling": alternative_spelling,
}
assert set(ATTACKS) == set(CHARACTER_LEVEL + WORD_LEVEL), "an attack without its name in core.config, or the reverse"


def attack(text: str, name: str, seed: int, strength: float | None = None) -> str:
    """`text` under the attack `name`, at RAID's strength unless given; the same seed, the same edits."""
    rng = random.Random(f"{name}\x1f{seed}\x1f{text}")
    return ATTACKS[name](text, rng, RAID_STRENGTH[name] if strength is None else strength)
