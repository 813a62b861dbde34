"""File I/O at the edges: atomic writes and JSON Lines with file:line errors."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tinydetect.core.errors import UserError


class DataError(UserError):
    """Bad input data; the message starts with `path:line:`."""


_UMASK = os.umask(0o022)  # read the process umask (set it back at once)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds.

    A crash mid-write leaves the old file (or no file), never half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp_name)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; the result should read like any other file
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, payload: object) -> None:
    """Pretty, key-sorted JSON so that diffs of metrics files stay readable."""
    write_text(path, json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    lines = (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)
    write_text(path, "".join(lines))


def size_mb(path: str | Path) -> float:
    """Bytes of a file, or of every file under a folder, in MB."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file()) / 1e6


def read_json(path: str | Path) -> object:
    return json.loads(Path(path).read_text(encoding="utf-8"))


MAX_LINE_BYTES = 10_000_000  # `predict --max-line-bytes`' default: generous, and a bound on what one line costs


def split_lines(text: str) -> list[str]:
    r"""Lines as JSON Lines defines them: separated by "\n" alone ("\r\n" too), nothing else.

    `str.splitlines()` also splits on U+2028, U+2029, U+0085 and other characters that JSON
    allows raw inside a string (and that `json.dumps(..., ensure_ascii=False)` writes raw), so
    it cut valid records in two.

    >>> split_lines('{"text": "a\u2028b"}\r\n{"text": "c"}\n')
    ['{"text": "a\u2028b"}', '{"text": "c"}']
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def decode_utf8(data: bytes, name: str) -> str:
    r"""UTF-8 text, a leading byte-order mark accepted (and dropped); bad bytes name the line.

    >>> decode_utf8(b"\xef\xbb\xbfhi", "x")
    'hi'
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(f"{name}:{line}: not UTF-8 text ({error.reason} at byte {error.start - line_start + 1} "
                        "of the line); save the file as UTF-8") from None


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file (see `split_lines` and `decode_utf8`)."""
    path = Path(path)
    return split_lines(decode_utf8(path.read_bytes(), str(path)))


def parse_jsonl_lines(lines: Iterable[str], name: str) -> Iterator[tuple[int, dict]]:
    """Yield `(line_number, object)` for each non-blank line; bad JSON names `name` and the line."""
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{name}:{line_number}: invalid JSON: {error.msg} (column {error.colno})") from None
        except RecursionError:
            raise DataError(f"{name}:{line_number}: invalid JSON: nested too deeply") from None
        except ValueError as error:  # e.g. an integer of more than 4,300 digits
            raise DataError(f"{name}:{line_number}: invalid JSON: {str(error)[:120]}") from None
        if not isinstance(row, dict):
            raise DataError(f"{name}:{line_number}: expected a JSON object, got {type(row).__name__}")
        yield line_number, row


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """`parse_jsonl_lines` over a UTF-8 file."""
    yield from parse_jsonl_lines(read_lines(path), str(path))
