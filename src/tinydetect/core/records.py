"""The input contract for labelled texts, validated with pydantic.

A record in `data/real/*.jsonl` needs `text` and `label` (`HUMAN` or `AI`); `id`,
`domain`, `lang` and `group` are optional. Any other fields (a generator name, a
source, a licence) are kept as they are, so evaluation can slice by them later.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from tinydetect.core.files import DataError, iter_jsonl

LABELS = ("HUMAN", "AI")
LABEL_TO_INT = {"HUMAN": 0, "AI": 1}
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LETTER = re.compile(r"[^\W\d_]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


class Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=False)

    id: str
    text: str
    label: Literal["HUMAN", "AI"]
    group: str
    lang: str
    domain: str | None = None

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text is empty")
        return text

    @property
    def label_int(self) -> int:
        return LABEL_TO_INT[self.label]

    def to_row(self) -> dict:
        return self.model_dump(exclude_none=True)


def guess_lang(text: str) -> str:
    """A script-based guess, enough to pick prompts and tokenizer slices.

    >>> guess_lang("대한민국 헌법"), guess_lang("The assert statement")
    ('ko', 'en')
    """
    letters = _LETTER.findall(text)
    hangul = _HANGUL.findall(text)
    return "ko" if letters and len(hangul) / len(letters) > 0.3 else "en"


def script_language(text: str) -> str | None:
    """`guess_lang` for a text mostly in Hangul or Latin letters; None for any other script (or no letters at all):
    the languages a label's cut can exist for are the ones `guess_lang` tells apart, and a Cyrillic or Han text is
    neither.

    >>> script_language("대한민국 헌법"), script_language("The assert statement"), script_language("Привет, мир")
    ('ko', 'en', None)
    """
    letters = len(_LETTER.findall(text))
    if not letters or len(_HANGUL.findall(text)) + len(_LATIN.findall(text)) < letters / 2:
        return None
    return guess_lang(text)


def _first_error(error: ValidationError) -> str:
    detail = error.errors()[0]
    field = ".".join(map(str, detail["loc"])) or "record"
    if detail["type"] == "literal_error":
        return f"{field}: {detail['input']!r} is not one of {', '.join(LABELS)}"
    return f"{field}: {detail['msg']}"


SYNTH_ID_SEPARATOR = "~"  # synth names its texts `<source id>~<strategy>~<n>`: user ids may not contain it


def _check_id(value: object, user_data: bool) -> str | None:
    """The problem with a given `id`, or None. Strings and integers are ids; nothing else is.

    In the user's data (`data/real/`), `~` is reserved, so synth's ids can never collide with one.

    >>> _check_id(True, user_data=True), _check_id("a~b", user_data=True) is not None, _check_id(7, user_data=True)
    ('must be a string or an integer, not true', True, None)
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return f"must be a string or an integer, not {json.dumps(value)}"
    if isinstance(value, str) and not value.strip():
        return "is empty"
    if user_data and SYNTH_ID_SEPARATOR in str(value):
        return f"{str(value)!r} contains '{SYNTH_ID_SEPARATOR}', which is kept for the ids synth gives its texts"
    return None


def parse_record(row: dict, default_id: str, user_data: bool = False) -> Record:
    """Fill the optional fields, then validate; raises pydantic's ValidationError (or ValueError for the id)."""
    filled = dict(row)
    if "id" in filled and filled["id"] is not None:
        problem = _check_id(filled["id"], user_data)
        if problem:
            raise ValueError(f"id: {problem}")
        filled["id"] = str(filled["id"])
    else:
        filled["id"] = default_id
    if filled.get("group") in (None, ""):
        filled["group"] = filled["id"]
    filled["group"] = str(filled["group"])
    if not filled.get("lang") and isinstance(filled.get("text"), str):
        filled["lang"] = guess_lang(filled["text"])
    return Record.model_validate(filled)


def load_located(path: str | Path, name: str | None = None, user_data: bool = False) -> list[tuple[str, Record]]:
    """`("path:line", record)` for each record of one JSONL file; the first bad one stops with `path:line: problem`.

    `name` is the default id's prefix (`<name>:<line>`); by default the file's stem. `user_data`:
    the file is the user's (`data/real/`), where ids may not contain synth's `~`.
    """
    path = Path(path)
    located = []
    for line_number, row in iter_jsonl(path):
        try:
            record = parse_record(row, default_id=f"{name or path.stem}:{line_number}", user_data=user_data)
        except ValidationError as error:
            raise DataError(f"{path}:{line_number}: {_first_error(error)}") from None
        except ValueError as error:
            raise DataError(f"{path}:{line_number}: {error}") from None
        located.append((f"{path}:{line_number}", record))
    return located


def load_file(path: str | Path, name: str | None = None) -> list[Record]:
    """The records of one JSONL file (see `load_located`)."""
    return [record for _, record in load_located(path, name)]


def data_files(directory: str | Path) -> tuple[list[Path], list[Path]]:
    """`(JSON Lines files, other files)` under `directory`, subfolders included, sorted; hidden ones left out.

    A `.jsonl` suffix in any case (`.JSONL`) counts.
    """
    directory = Path(directory)
    found = sorted(path for path in directory.rglob("*") if path.is_file()
                   and not any(part.startswith(".") for part in path.relative_to(directory).parts))
    jsonl = [path for path in found if path.suffix.lower() == ".jsonl"]
    return jsonl, [path for path in found if path not in jsonl]


def load_dir(directory: str | Path) -> list[Record]:
    """Load every JSON Lines file under `directory` (sorted, subfolders too) and check that ids are unique.

    Other files are named on stderr as skipped, never ignored silently.
    """
    directory = Path(directory)
    files, others = data_files(directory)
    for path in others:
        print(f"{path}: skipped, not a .jsonl file", file=sys.stderr)
    if not files:
        raise DataError(f"{directory}: no .jsonl files (see docs/data.md)")
    records: list[Record] = []
    seen: dict[str, str] = {}
    for path in files:
        located = load_located(path, name=path.relative_to(directory).with_suffix("").as_posix(), user_data=True)
        if not located:
            print(f"{path}: no texts in this file", file=sys.stderr)
        for where, record in located:
            if record.id in seen:
                raise DataError(f"{where}: id {record.id!r} is already used at {seen[record.id]}")
            seen[record.id] = where
            records.append(record)
    if not records:
        raise DataError(f"{directory}: no texts in {', '.join(str(path) for path in files)}")
    return records
