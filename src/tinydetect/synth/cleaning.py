"""Turn an LLM reply into a sample, or say why it cannot be one.

Chat models wrap their answer: "Here's a rewrite:", quotes, markdown fences, "Let me
know if...". Left in, those wrappers would teach the detector to spot the wrapper, not
the prose, so they are stripped. What remains is rejected when it is empty, cut off at
the token limit, a refusal or safety block, or in the wrong script for its source.
"""

from __future__ import annotations

import re

from tinydetect.core.records import guess_lang
from tinydetect.synth.backends import Reply

_FENCE = re.compile(r"^```[\w-]*\s*\n(.*?)\n\s*```$", re.S)
_PREAMBLE = re.compile(
    r"^(?:(?:sure|certainly|of course|okay|ok|absolutely)[!,.]?\s+)?"
    r"(?:here(?:'s| is| are)\b[^\n:]{0,80}:|(?:rewritten|paraphrased|revised) (?:text|version)\s*:)\s*",
    re.I,
)
_PREAMBLE_KO = re.compile(r"^(?:물론(?:입니다|이죠)?[!.,]?\s*)?(?:다음은[^\n:]{0,60}[.:]|[^\n:]{0,40}다시 쓴 글(?:입니다)?\s*[:：])\s*")
_TRAILER = re.compile(r"\n+\s*(?:let me know|i hope this|feel free|would you like|도움이 되셨)[^\n]*$", re.I)
_QUOTES = [('"', '"'), ("“", "”"), ("'", "'"), ("「", "」"), ("『", "』"), ("*", "*")]
_REFUSAL = re.compile(r"^(?:i(?:'m| am) sorry|i can(?:'|no)t (?:help|assist|comply|do)|as an ai\b|죄송하지만|죄송합니다)", re.I)


def clean_reply(text: str) -> str:
    """The prose alone.

    >>> clean_reply('Sure! Here is the rewritten text:\\n\\n"The cat sat."\\n\\nLet me know if you need more.')
    'The cat sat.'
    >>> clean_reply("```text\\n다시 쓴 글입니다.\\n```")
    '다시 쓴 글입니다.'
    """
    text = text.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    text = _PREAMBLE_KO.sub("", _PREAMBLE.sub("", text, count=1), count=1).strip()
    text = _TRAILER.sub("", text).strip()
    for opening, closing in _QUOTES:
        if len(text) > 2 and text.startswith(opening) and text.endswith(closing) and text.count(opening) <= 2:
            text = text[len(opening) : -len(closing)].strip()
    return text


def rejection_reason(reply: Reply, cleaned: str, source_lang: str) -> str | None:
    """None when `cleaned` is a usable sample, else one of: refused, truncated, empty, wrong_language.

    The language check is by script (Hangul or not), the same guess the records use.
    """
    if reply.finish == "safety" or _REFUSAL.match(cleaned):
        return "refused"
    if reply.finish == "length":
        return "truncated"
    if not cleaned:
        return "empty"
    expected = "ko" if source_lang == "ko" else "en"
    if guess_lang(cleaned) != expected:
        return "wrong_language"
    return None
