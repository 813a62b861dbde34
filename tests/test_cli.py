import pytest

from tinydetect.cli.main import build_parser
from tinydetect.cli.predict import read_texts
from tinydetect.core.files import DataError


def test_plain_lines_are_numbered_and_blank_lines_skipped(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("first text\n\n두 번째 글\n", encoding="utf-8")
    assert read_texts(str(path)) == ([("1", "first text"), ("3", "두 번째 글")], "text")


def test_jsonl_keeps_ids(tmp_path):
    path = tmp_path / "texts.jsonl"
    path.write_text('{"id": "a", "text": "one"}\n{"text": "two"}\n', encoding="utf-8")
    assert read_texts(str(path)) == ([("a", "one"), ("2", "two")], "jsonl")


def test_format_is_sniffed_from_the_whole_input_when_the_name_does_not_say(tmp_path):
    path = tmp_path / "texts.data"
    path.write_text('{"id": "a", "text": "one"}\n{"text": "two"}\n', encoding="utf-8")
    assert read_texts(str(path))[1] == "jsonl"
    path.write_text('{"id": "a", "text": "one"}\nthen a plain line\n', encoding="utf-8")
    assert read_texts(str(path)) == ([("1", '{"id": "a", "text": "one"}'), ("2", "then a plain line")], "text")


@pytest.mark.parametrize(("line", "problem"), [('{"text": 3}', "text: missing or not a string"), ('{"text": "x"', "invalid JSON")])
def test_bad_jsonl_names_file_and_line(tmp_path, line, problem):
    path = tmp_path / "texts.jsonl"
    path.write_text('{"text": "ok"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"texts.jsonl:2: {problem}"):
        read_texts(str(path))


def test_help_explains_formats(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["predict", "--help"])
    help_text = capsys.readouterr().out
    for expected in ("JSONL", "threshold", "--model", "--format", "--source", ".mlpackage", "interrupted"):
        assert expected in help_text, expected
