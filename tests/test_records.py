import json

import pytest

from tinydetect.core.files import DataError
from tinydetect.core.records import guess_lang, load_dir, load_file

from .conftest import write_rows


def test_optional_fields_are_filled(tmp_path):
    path = write_rows(tmp_path / "a.jsonl", [{"text": "한국어 문장입니다.", "label": "HUMAN"}])
    (record,) = load_file(path)
    assert (record.id, record.group, record.lang) == ("a:1", "a:1", "ko")


def test_extra_fields_are_kept(tmp_path):
    path = write_rows(tmp_path / "a.jsonl", [{"text": "x y", "label": "AI", "model": "gpt-4o", "pair_id": 7}])
    (record,) = load_file(path)
    assert record.to_row()["model"] == "gpt-4o"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "hi", "label": "ai?"}', "label: 'ai?' is not one of HUMAN, AI"),
        ('{"label": "HUMAN"}', "text: Field required"),
        ('{"text": "   ", "label": "HUMAN"}', "text: Value error, text is empty"),
        ('{"text": 5, "label": "HUMAN"}', "text: Input should be a valid string"),
        ('{"text": "hi", "label": "HUMAN"', "invalid JSON"),
        ('["text"]', "expected a JSON object, got list"),
    ],
)
def test_bad_record_names_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"text": "fine", "label": "HUMAN"}) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as raised:
        load_file(path)
    assert str(raised.value).startswith(f"{path}:3: {message}")


def test_not_utf8_is_reported(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes('{"text": "caf\xe9", "label": "HUMAN"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match="latin.jsonl: not UTF-8"):
        load_file(path)


def test_duplicate_ids_across_files(tmp_path):
    write_rows(tmp_path / "a.jsonl", [{"id": "x", "text": "one", "label": "HUMAN"}])
    write_rows(tmp_path / "b.jsonl", [{"id": "x", "text": "two", "label": "AI"}])
    with pytest.raises(DataError, match="id 'x' already used"):
        load_dir(tmp_path)


def test_empty_dir_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match="no \\*.jsonl files"):
        load_dir(tmp_path)


@pytest.mark.parametrize(
    ("text", "lang"), [("Hello there", "en"), ("안녕하세요 반갑습니다", "ko"), ("Python 3 (파이썬) 언어의 문법", "ko"), ("🙂", "en")]
)
def test_guess_lang(text, lang):
    assert guess_lang(text) == lang
