"""`tinydetect predict`: read texts, score them in batches, write each batch as soon as it is scored.

The input's format is decided once, for the whole input, and said on stderr: JSON Lines when
`--format jsonl`, or for `auto` when the file ends in `.jsonl`/`.ndjson`, or (stdin, other
names) when every non-blank line is a JSON object; plain text, one text per line, otherwise.
The output is checked before any scoring, so a path that cannot be written costs nothing,
and written batch by batch, so an interrupted run keeps what it scored.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

from tqdm import tqdm

from tinydetect.api import score_rows
from tinydetect.core.errors import UserError
from tinydetect.core.files import MAX_LINE_BYTES, DataError, decode_utf8, parse_jsonl_lines, split_lines

JSONL_SUFFIXES = (".jsonl", ".ndjson")
BATCH = 64
PROGRESS_FROM = 1000  # texts; smaller inputs finish before a bar would help
MAX_INPUT_BYTES = 2_000_000_000  # all of an input; past it, score in parts


def read_input(source: str, max_line_bytes: int = MAX_LINE_BYTES,
               max_input_bytes: int = MAX_INPUT_BYTES) -> tuple[bytes, str]:
    """The raw bytes of a file or of standard input ("-"), and the name errors use.

    Read a line at a time, each at most `max_line_bytes` and all at most `max_input_bytes`, so an endless input
    (`/dev/zero`, `yes`) or one huge line is refused after a bounded read instead of filling the memory.
    """
    if source == "-":
        return _bounded_read(sys.stdin.buffer, "<stdin>", max_line_bytes, max_input_bytes), "<stdin>"
    path = Path(source)
    if path.is_dir():
        raise UserError(f"{source}: is a folder; give a JSONL or text file, or - for standard input")
    try:
        with path.open("rb") as stream:
            return _bounded_read(stream, source, max_line_bytes, max_input_bytes), source
    except OSError as error:
        raise UserError(f"{source}: cannot be read ({error.strerror})") from None


def _bounded_read(stream: BinaryIO, name: str, max_line_bytes: int, max_input_bytes: int) -> bytes:
    lines, total = [], 0
    for number in itertools.count(1):
        line = stream.readline(max_line_bytes + 2)  # room for the line's own "\r\n"
        if not line:
            return b"".join(lines)
        if len(line.rstrip(b"\r\n")) > max_line_bytes:
            raise DataError(f"{name}:{number}: line longer than --max-line-bytes {max_line_bytes:,} bytes; split the "
                            "text, or raise the limit (the model reads only the first few thousand characters)")
        total += len(line)
        if total > max_input_bytes:
            raise DataError(f"{name}:{number}: input longer than {max_input_bytes:,} bytes; score it in parts")
        lines.append(line)
    raise AssertionError("unreachable")


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 text; binary data (NUL bytes, invalid UTF-8) is refused with the line it was found on."""
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise DataError(f"{name}:{line}: binary data (a NUL byte), not text; predict reads UTF-8 JSON Lines or plain text")
    return decode_utf8(data, name)


def _all_json_objects(lines: Sequence[str]) -> bool:
    for line in lines:
        if not line.strip():
            continue
        try:
            if not isinstance(json.loads(line), dict):
                return False
        except (ValueError, RecursionError):  # not JSON, a huge number, deep nesting: parse_texts names the line
            return False
    return True


def choose_format(requested: str, name: str, lines: Sequence[str]) -> str:
    """`jsonl` or `text` for the whole input (see the module docstring)."""
    if requested != "auto":
        return requested
    if name.lower().endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.lower().endswith(".txt"):
        return "text"
    return "jsonl" if any(line.strip() for line in lines) and _all_json_objects(lines) else "text"


def parse_texts(lines: Sequence[str], name: str, input_format: str) -> list[tuple[str, str]]:
    """`(id, text)` pairs: JSONL objects' "id" (default: the line number) and "text", or non-blank plain lines."""
    if input_format == "text":
        return [(str(number), line) for number, line in enumerate(lines, start=1) if line.strip()]
    pairs = []
    for line_number, row in parse_jsonl_lines(lines, name):
        if not isinstance(row.get("text"), str):
            raise DataError(f"{name}:{line_number}: text: missing or not a string")
        pairs.append((str(row.get("id", line_number)), row["text"]))
    return pairs


def read_texts(source: str, requested_format: str = "auto",
               max_line_bytes: int = MAX_LINE_BYTES) -> tuple[list[tuple[str, str]], str]:
    """`(id, text)` pairs of the input and the format it was read as."""
    data, name = read_input(source, max_line_bytes)
    lines = split_lines(decode_text(data, name))
    input_format = choose_format(requested_format, name, lines)
    return parse_texts(lines, name, input_format), input_format


def check_writable(output: str) -> None:
    """Fail before scoring when the output cannot be written: a folder, a missing or read-only folder."""
    if output == "-":
        return
    path = Path(output)
    if path.is_dir():
        raise UserError(f"--output {output}: is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"--output {output}: the folder {folder} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"--output {output}: not writable")
    try:  # the real test (permission bits say nothing for root, read-only mounts or /proc): create a file there
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".tinydetect-write-check-"):
            pass
    except OSError as error:
        raise UserError(f"--output {output}: cannot write in {folder} ({error.strerror})") from None


@contextmanager
def open_output(output: str) -> Iterator[TextIO]:
    """Standard output, or the file (written as results come, so an interrupted run keeps what was scored)."""
    if output == "-":
        yield sys.stdout
        return
    try:
        handle = open(output, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as error:
        raise UserError(f"--output {output}: cannot be written ({error.strerror})") from None
    with handle:
        yield handle


def score_to(scorer, pairs: Sequence[tuple[str, str]], out: TextIO, sentences: str | None = None) -> None:
    """Score in batches; each batch's rows are written and flushed before the next is scored.

    Each row says what the tokenizer's normalization had to undo (`obfuscated`, with the counts of
    invisible characters and mixed-script words): the score is of the normalized text, and a text
    that needed it was very likely edited to evade a detector.
    """
    with tqdm(total=len(pairs), unit="text", desc="predict", file=sys.stderr,
              disable=len(pairs) < PROGRESS_FROM) as progress:
        for start in range(0, len(pairs), BATCH):
            batch = pairs[start : start + BATCH]
            rows = score_rows(scorer, [text for _, text in batch], sentences)  # the Python API's rows, field for field
            for (text_id, _), row in zip(batch, rows, strict=True):
                out.write(json.dumps({"id": text_id, **row}, ensure_ascii=False) + "\n")
            out.flush()
            progress.update(len(batch))


def predict(source: str, model: str, output: str, requested_format: str = "auto", model_source: str | None = None,
            max_line_bytes: int = MAX_LINE_BYTES, sentences: str | None = None) -> int:
    """Read, check, load, score, write; returns how many texts were scored."""
    pairs, input_format = read_texts(source, requested_format, max_line_bytes)
    name = "<stdin>" if source == "-" else source
    described = "JSON Lines" if input_format == "jsonl" else "plain text, one text per line"
    print(f"{name}: read as {described} ({len(pairs)} texts; --format to choose)", file=sys.stderr)
    check_writable(output)
    if not pairs:
        print(f"{name}: no texts", file=sys.stderr)
    from tinydetect.runtime.scorers import load_scorer  # model libraries load only when there is work

    scorer = load_scorer(model, source=model_source) if pairs else None
    with open_output(output) as out:
        if scorer is not None:
            score_to(scorer, pairs, out, sentences)
    return len(pairs)
