"""What the served model accepts as a text: non-empty UTF-8, within a size limit. Checked per request."""

from __future__ import annotations

from collections.abc import Iterable


class BadText(ValueError):
    """A text the server refuses: the message says which one and why (the client sees it as a 400)."""


def decode_texts(raw_texts: Iterable[bytes], max_text_bytes: int) -> list[str]:
    """Each element of a request's BYTES tensor, decoded; the first bad one fails the whole request.

    >>> decode_texts([b"ok", "안녕".encode()], 100)
    ['ok', '안녕']
    >>> decode_texts([b"ok", b" "], 100)
    Traceback (most recent call last):
    ...
    tinydetect.serving.texts.BadText: text 2 of this request is empty (or only white space): nothing to score
    >>> decode_texts([b"\\xff\\xfe"], 100)
    Traceback (most recent call last):
    ...
    tinydetect.serving.texts.BadText: text 1 of this request is not UTF-8 (byte 0xff at offset 0)
    >>> decode_texts([b"x" * 101], 100)
    Traceback (most recent call last):
    ...
    tinydetect.serving.texts.BadText: text 1 of this request is 101 bytes, over the server's limit of 100 (--max-text-bytes)
    """
    texts = []
    for number, raw in enumerate(raw_texts, start=1):
        if not isinstance(raw, bytes):
            raw = str(raw).encode()
        if len(raw) > max_text_bytes:
            raise BadText(f"text {number} of this request is {len(raw)} bytes, over the server's limit of "
                          f"{max_text_bytes} (--max-text-bytes)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadText(f"text {number} of this request is not UTF-8 (byte 0x{raw[error.start]:02x} at offset "
                          f"{error.start})") from None
        if not text.strip():
            raise BadText(f"text {number} of this request is empty (or only white space): nothing to score")
        texts.append(text)
    return texts
