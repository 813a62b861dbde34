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


def test_not_utf8_names_the_line_not_a_byte_offset(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(('{"text": "fine", "label": "HUMAN"}\n' + '{"text": "caf\xe9", "label": "HUMAN"}\n').encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.jsonl:2: not UTF-8 text \(invalid continuation byte at byte 14 of the line\)"):
        load_file(path)


def test_duplicate_ids_name_both_files_and_lines(tmp_path):
    write_rows(tmp_path / "a.jsonl", [{"id": "y", "text": "zero", "label": "HUMAN"}, {"id": "x", "text": "one", "label": "HUMAN"}])
    write_rows(tmp_path / "b.jsonl", [{"id": "x", "text": "two", "label": "AI"}])
    with pytest.raises(DataError, match=r"b.jsonl:1: id 'x' is already used at .*a.jsonl:2$"):
        load_dir(tmp_path)


def test_empty_dir_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match=r"no \.jsonl files"):
        load_dir(tmp_path)


LINE_BREAKS_JSON_ALLOWS_RAW = ["\u2028", "\u2029", "\u0085"]


@pytest.mark.parametrize("character", LINE_BREAKS_JSON_ALLOWS_RAW)
def test_unicode_line_breaks_inside_a_text_are_one_record(tmp_path, character):
    """JSON allows U+2028, U+2029 and U+0085 raw in a string; str.splitlines() cut such a line in two."""
    rows = [{"text": f"first{character}still the first", "label": "HUMAN"}, {"text": "second", "label": "AI"}]
    path = write_rows(tmp_path / "a.jsonl", rows)  # ensure_ascii=False: written raw
    assert character in path.read_text(encoding="utf-8")
    assert [record.text for record in load_file(path)] == [rows[0]["text"], "second"]


def test_a_byte_order_mark_and_crlf_line_ends_are_accepted(tmp_path):
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"text": "one", "label": "HUMAN"}\r\n{"text": "two", "label": "AI"}\r\n')
    assert [record.text for record in load_file(path)] == ["one", "two"]


@pytest.mark.parametrize(("value", "problem"), [
    (True, "must be a string or an integer, not true"),
    (1.5, "must be a string or an integer, not 1.5"),
    (["x"], 'must be a string or an integer, not \\["x"\\]'),
    ("", "is empty"),
    ("demo-en-0000~paraphrase~0", "'demo-en-0000~paraphrase~0' contains '~', which is kept for the ids synth gives"),
])
def test_ids_that_are_not_strings_or_integers_or_look_like_synths_are_rejected(tmp_path, value, problem):
    """Before: true became "True", 1.5 and ["x"] silently became "mine:2", and a synth-like id collided with synth's."""
    write_rows(tmp_path / "mine.jsonl", [{"id": "ok", "text": "a", "label": "HUMAN"}, {"id": value, "text": "b", "label": "HUMAN"}])
    with pytest.raises(DataError, match=f"mine.jsonl:2: id: {problem}"):
        load_dir(tmp_path)


def test_integer_ids_are_kept_as_their_digits(tmp_path):
    path = write_rows(tmp_path / "mine.jsonl", [{"id": 17, "text": "a", "label": "HUMAN"}])
    assert load_file(path)[0].id == "17"


def test_upper_case_suffixes_and_subfolders_are_read_and_other_files_named(tmp_path, capsys):
    write_rows(tmp_path / "a.jsonl", [{"text": "one", "label": "HUMAN"}])
    write_rows(tmp_path / "B.JSONL", [{"text": "two", "label": "HUMAN"}])
    write_rows(tmp_path / "more" / "c.jsonl", [{"text": "three", "label": "AI"}])
    (tmp_path / "notes.txt").write_text("not data")
    (tmp_path / ".hidden.jsonl").write_text("{broken")
    records = load_dir(tmp_path)
    assert sorted(record.text for record in records) == ["one", "three", "two"]
    assert {record.id for record in records} == {"a:1", "B:1", "more/c:1"}
    assert "notes.txt: skipped, not a .jsonl file" in capsys.readouterr().err


def test_empty_files_are_named(tmp_path, capsys):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(DataError, match=r"no texts in .*empty\.jsonl"):
        load_dir(tmp_path)
    write_rows(tmp_path / "full.jsonl", [{"text": "one", "label": "HUMAN"}])
    assert len(load_dir(tmp_path)) == 1
    assert "empty.jsonl: no texts in this file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "lang"), [("Hello there", "en"), ("안녕하세요 반갑습니다", "ko"), ("Python 3 (파이썬) 언어의 문법", "ko"), ("🙂", "en")]
)
def test_guess_lang(text, lang):
    assert guess_lang(text) == lang
