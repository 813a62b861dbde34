"""The input contract for labelled texts, validated with pydantic.

A record in `data/real/*.jsonl` needs `text` and `label` (`HUMAN` or `AI`); `id`,
`domain`, `lang` and `group` are optional. Any other fields (a generator name, a
source, a licence) are kept as they are, so evaluation can slice by them later.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from tinydetect.core.files import DataError, iter_jsonl

LABELS = ("HUMAN", "AI")
LABEL_TO_INT = {"HUMAN": 0, "AI": 1}
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LETTER = re.compile(r"[^\W\d_]")


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


def _first_error(error: ValidationError) -> str:
    detail = error.errors()[0]
    field = ".".join(map(str, detail["loc"])) or "record"
    if detail["type"] == "literal_error":
        return f"{field}: {detail['input']!r} is not one of {', '.join(LABELS)}"
    return f"{field}: {detail['msg']}"


def parse_record(row: dict, default_id: str) -> Record:
    """Fill the optional fields, then validate; raises pydantic's ValidationError."""
    filled = dict(row)
    if not isinstance(filled.get("id"), (str, int)) or filled.get("id") == "":
        filled["id"] = default_id
    filled["id"] = str(filled["id"])
    if filled.get("group") in (None, ""):
        filled["group"] = filled["id"]
    filled["group"] = str(filled["group"])
    if not filled.get("lang") and isinstance(filled.get("text"), str):
        filled["lang"] = guess_lang(filled["text"])
    return Record.model_validate(filled)


def load_file(path: str | Path) -> list[Record]:
    """Load one JSONL file; the first bad record stops with `path:line: field: problem`."""
    path = Path(path)
    records = []
    for line_number, row in iter_jsonl(path):
        try:
            records.append(parse_record(row, default_id=f"{path.stem}:{line_number}"))
        except ValidationError as error:
            raise DataError(f"{path}:{line_number}: {_first_error(error)}") from None
    return records


def load_dir(directory: str | Path) -> list[Record]:
    """Load every `*.jsonl` in `directory`, in sorted file order, and check ids are unique."""
    directory = Path(directory)
    files = sorted(directory.glob("*.jsonl"))
    if not files:
        raise DataError(f"{directory}: no *.jsonl files (see README, 'Your data')")
    records: list[Record] = []
    seen_ids: dict[str, Path] = {}
    for path in files:
        for record in load_file(path):
            if record.id in seen_ids:
                raise DataError(f"{path}: id {record.id!r} already used in {seen_ids[record.id]}")
            seen_ids[record.id] = path
            records.append(record)
    return records

