"""`tinydetect predict`: read texts, score them in batches, write each batch as soon as it is scored.

The input's format is decided once, for the whole input, and said on stderr: JSON Lines when
`--format jsonl`, or for `auto` when the file ends in `.jsonl`/`.ndjson`, or (stdin, other
names) when every non-blank line is a JSON object; plain text, one text per line, otherwise.
The output is checked before any scoring, so a path that cannot be written costs nothing,
and written batch by batch, so an interrupted run keeps what it scored.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from tinydetect.core.errors import UserError
from tinydetect.core.files import DataError, decode_utf8, parse_jsonl_lines, split_lines
from tinydetect.robustness.obfuscation import obfuscation

JSONL_SUFFIXES = (".jsonl", ".ndjson")
BATCH = 64
PROGRESS_FROM = 1000  # texts; smaller inputs finish before a bar would help


def read_input(source: str) -> tuple[bytes, str]:
    """The raw bytes of a file or of standard input ("-"), and the name errors use."""
    if source == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    path = Path(source)
    if path.is_dir():
        raise UserError(f"{source}: is a folder; give a JSONL or text file, or - for standard input")
    try:
        return path.read_bytes(), source
    except OSError as error:
        raise UserError(f"{source}: cannot be read ({error.strerror})") from None


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
        except json.JSONDecodeError:
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


def read_texts(source: str, requested_format: str = "auto") -> tuple[list[tuple[str, str]], str]:
    """`(id, text)` pairs of the input and the format it was read as."""
    data, name = read_input(source)
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


def score_to(scorer, pairs: Sequence[tuple[str, str]], out: TextIO) -> None:
    """Score in batches; each batch's rows are written and flushed before the next is scored.

    Each row says what the tokenizer's normalization had to undo (`obfuscated`, with the counts of
    invisible characters and mixed-script words): the score is of the normalized text, and a text
    that needed it was very likely edited to evade a detector.
    """
    with tqdm(total=len(pairs), unit="text", desc="predict", file=sys.stderr,
              disable=len(pairs) < PROGRESS_FROM) as progress:
        for start in range(0, len(pairs), BATCH):
            batch = pairs[start : start + BATCH]
            texts = [text for _, text in batch]
            p_ai = scorer.probability_ai(texts)
            cuts = scorer.threshold.for_texts(texts)  # the cut of each text's language, where there are several
            for (text_id, text), probability, cut in zip(batch, p_ai, cuts, strict=True):
                label = "AI" if probability > cut else "HUMAN"
                row = {"id": text_id, "p_ai": round(float(probability), 6), "label": label, **obfuscation(text)}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            progress.update(len(batch))


def predict(source: str, model: str, output: str, requested_format: str = "auto", model_source: str | None = None) -> int:
    """Read, check, load, score, write; returns how many texts were scored."""
    pairs, input_format = read_texts(source, requested_format)
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
            score_to(scorer, pairs, out)
    return len(pairs)
