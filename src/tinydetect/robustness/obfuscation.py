"""Evasion as a signal: what the tokenizer's normalization had to undo in a text.

The score is of the normalized text, so an attacker gains nothing from invisible characters
or look-alike letters; a text that holds them was very likely edited to evade detection,
and `tinydetect predict` says so beside the score (`obfuscated`, with the counts).
"""

from __future__ import annotations

import re
import unicodedata

from tinydetect.modeling.normalization import is_removed, latin_confusables

# Joiners and presentation selectors that belong to an emoji sequence (👨‍👩‍👧, ❤️): removed by the
# rules like any format character, but not a sign of evasion there.
_EMOJI_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}
_KEYCAP = "\u20e3"  # 1️⃣ is 1, U+FE0F, U+20E3
_WORD = re.compile(r"\w+")


def _is_emoji(character: str) -> bool:
    # Python has no Extended_Pictographic property; emoji are symbols (So), skin tones (Sk), or astral.
    return bool(character) and (unicodedata.category(character) in ("So", "Sk") or ord(character) >= 0x1F000)


def invisible_characters(text: str) -> int:
    """Characters the normalization removes, not counting joiners inside an emoji sequence
    or a byte-order mark that opens the text."""
    count = 0
    for index, character in enumerate(text):
        if not is_removed(character):
            continue
        before, after = text[index - 1 : index], text[index + 1 : index + 2]
        if character in _EMOJI_JOINERS and (_is_emoji(before) or _is_emoji(after) or after == _KEYCAP):
            continue
        if character == "\ufeff" and index == 0:  # a byte-order mark a Windows editor left at the start
            continue
        count += 1
    return count


def mixed_script_words(text: str) -> int:
    """Words that mix scripts through a look-alike: "аpple" with a Cyrillic а.

    A word must hold a TR39 look-alike of a Latin letter and letters of two scripts. Korean
    particles on a Latin word ("iPhone을") or a name in its own script ("Дмитрий") do not count.
    """
    from confusable_homoglyphs import categories

    confusables = latin_confusables()
    count = 0
    for word in _WORD.findall(text):
        if not any(character in confusables for character in word):
            continue
        scripts = {categories.alias(character) for character in word if character.isalpha()}
        count += len(scripts - {"COMMON", "INHERITED"}) >= 2
    return count


def obfuscation(text: str) -> dict[str, int | bool]:
    """What the normalization had to undo in `text`: `predict` reports it beside the score.

    >>> obfuscation("hello\u200b world")
    {'obfuscated': True, 'invisible_characters': 1, 'mixed_script_words': 0}
    >>> obfuscation("가족 👨\u200d👩\u200d👧 iPhone을 Дмитрий")["obfuscated"]
    False
    """
    invisible, mixed = invisible_characters(text), mixed_script_words(text)
    return {"obfuscated": bool(invisible or mixed), "invisible_characters": invisible, "mixed_script_words": mixed}
