"""The text normalization every runtime shares, compiled into the SentencePiece model.

An evasion needs one `str.replace`: a zero-width space after every space, or Cyrillic
look-alikes for a, e, o, c, p, give new pieces the model never saw, and the detector's score
collapses. The rules below undo such edits before tokenization:

- format characters (Unicode category Cf: zero-width spaces and joiners, word joiners, BOMs,
  bidi controls, soft hyphens, tag characters), variation selectors and the combining
  grapheme joiner are removed; control characters too, except whitespace;
- every whitespace character becomes a space (SentencePiece then collapses runs of them);
- NFKC; then case folding (when `casefold`, the default) and NFKC again;
- before and after folding, a letter of another script that Unicode TR39 lists as a confusable of one ASCII letter
  (Cyrillic а, Greek ο, Latin ɑ...) becomes that letter. The list comes from the
  `confusable-homoglyphs` package (Unicode's confusables.txt), not from a table of ours.
  A rule table maps a character without looking at its neighbours, so a Russian word is
  mapped too; it is mapped the same way in training and in use.

Korean is left as it is: Hangul syllables, compatibility jamo (ㅋㅋ, ㅠㅠ, which NFKC would
turn into conjoining jamo) and halfwidth jamo keep their code points, and no Hangul, Han,
Hiragana or Katakana character is a confusable source.

The rules are one TSV table (SentencePiece's `normalization_rule_tsv` format), compiled by
SentencePiece into the model's `precompiled_charsmap`; transformers' converter copies that
map into `tokenizer.json`, so Python, Swift and the browser normalize with the same bytes.
Besides single characters the table composes canonical sequences (e + U+0301 -> é, Hangul
conjoining jamo -> a syllable), as SentencePiece's own NFKC table does.
"""

from __future__ import annotations

import functools
import json
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

# Korean forms NFKC would rewrite: compatibility jamo (U+3131-U+318E) and halfwidth jamo.
_KEPT_RANGES = ((0x3131, 0x318E), (0xFFA0, 0xFFDC))
# Default-ignorable marks outside category Cf: variation selectors, the combining grapheme joiner.
_IGNORED_RANGES = ((0xFE00, 0xFE0F), (0xE0100, 0xE01EF), (0x034F, 0x034F), (0x180B, 0x180F))
# Scripts whose characters are never mapped to Latin letters, whatever confusables.txt says.
_PROTECTED_SCRIPTS = {"HANGUL", "HAN", "HIRAGANA", "KATAKANA", "BOPOMOFO"}
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Hangul syllable composition (Unicode chapter 3.12): 19 leading x 21 vowel x 28 trailing conjoining jamo.
_L_BASE, _V_BASE, _T_BASE = 0x1100, 0x1161, 0x11A7


def _in_ranges(code_point: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code_point <= high for low, high in ranges)


@functools.cache
def latin_confusables() -> dict[str, str]:
    """Non-ASCII characters that TR39 confuses with one ASCII letter, mapped to that letter.

    A character listed under two letters takes the one of its own case, then the first in
    alphabetical order; a capital listed only under a lower-case letter (Greek Ι under l, as
    TR39 writes capital I) takes its lower case's letter, upper-cased (I).

    >>> {glyph: latin_confusables()[glyph] for glyph in "аΙіВ"}
    {'а': 'a', 'Ι': 'I', 'і': 'i', 'В': 'B'}
    """
    import confusable_homoglyphs
    from confusable_homoglyphs import categories

    table = json.loads((Path(confusable_homoglyphs.__file__).parent / "confusables.json").read_text("utf-8"))
    candidates: dict[str, list[str]] = {}
    for letter in sorted(_ASCII_LETTERS):
        for entry in table.get(letter, []):
            glyph = entry["c"]
            if len(glyph) == 1 and not glyph.isascii() and categories.alias(glyph) not in _PROTECTED_SCRIPTS:
                candidates.setdefault(glyph, []).append(letter)
    chosen = {glyph: min(letters, key=lambda letter: (letter.isupper() != glyph.isupper(), letter))
              for glyph, letters in candidates.items()}
    for glyph, letter in chosen.items():
        # TR39 writes capital I as l, so Greek Ι and Cyrillic І come out as l: a capital takes its lower
        # case's letter (ι, і -> i) upper-cased instead
        if glyph.isupper() and letter.islower() and chosen.get(glyph.lower(), "").islower():
            chosen[glyph] = chosen[glyph.lower()].upper()
    return chosen


def is_removed(character: str) -> bool:
    """True for the invisible characters the normalization drops (whitespace excepted)."""
    code_point = ord(character)
    category = unicodedata.category(character)
    return category == "Cf" or _in_ranges(code_point, _IGNORED_RANGES) or (
        category == "Cc" and not character.isspace())


def normalize_character(character: str, casefold: bool = True) -> str:
    """What one character becomes: '' (removed), ' ' (whitespace), or its normalized form."""
    if _in_ranges(ord(character), _KEPT_RANGES):
        return character
    if is_removed(character):
        return ""
    if character.isspace() or unicodedata.category(character) in ("Zs", "Zl", "Zp"):
        return " "
    confusables = latin_confusables()
    # look-alikes before folding: Cyrillic В looks like B, its lower case в like no Latin letter
    text = "".join(confusables.get(part, part) for part in unicodedata.normalize("NFKC", character))
    if casefold:
        folded = unicodedata.normalize("NFKC", text.casefold())
        text = "".join(confusables.get(part, part) for part in folded)
    return text


def _composed_sequences() -> Iterator[str]:
    """Canonically decomposed sequences that NFC composes into one character."""
    for code_point in range(sys.maxunicode + 1):
        character = chr(code_point)
        decomposed = unicodedata.normalize("NFD", character)
        if len(decomposed) > 1 and unicodedata.normalize("NFC", decomposed) == character:
            yield decomposed
    for leading in range(19):
        for vowel in range(21):
            for trailing in range(28):
                yield chr(_L_BASE + leading) + chr(_V_BASE + vowel) + (chr(_T_BASE + trailing) if trailing else "")


def _hex(text: str) -> str:
    return " ".join(f"{ord(character):X}" for character in text)


def normalization_rules(casefold: bool = True) -> dict[str, str]:
    """Every rule of the table: source sequence -> target (possibly empty)."""
    rules: dict[str, str] = {}
    for code_point in range(sys.maxunicode + 1):
        if code_point == 0 or 0xD800 <= code_point <= 0xDFFF:  # NUL ends a trie key; surrogates never decode
            continue
        character = chr(code_point)
        target = normalize_character(character, casefold)
        if target != character:
            rules[character] = target
    for sequence in _composed_sequences():
        target = normalize_character(unicodedata.normalize("NFC", sequence), casefold)
        if target != sequence:  # a folded letter may decompose again (ǰ -> j + U+030C)
            rules.setdefault(sequence, target)
    return rules


def normalization_rule_tsv(casefold: bool = True) -> str:
    """The rule table in SentencePiece's TSV format: source code points TAB target code points.

    An empty target removes the source. SentencePiece applies the longest matching rule.
    """
    lines = [f"{_hex(source)}\t{_hex(target)}" for source, target in normalization_rules(casefold).items()]
    return "\n".join(lines) + "\n"

