"""Sentences and their scores: the splitting rule, the three scoring methods, `predict --sentences`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tinydetect.api import load
from tinydetect.core.sentences import sentence_spans, sentences
from tinydetect.runtime.sentences import MAX_SENTENCES, sentence_scores, windows, without_each


@pytest.mark.parametrize(("text", "expected"), [
    ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
    ("He said \"stop.\" Then left.", ["He said \"stop.\"", "Then left."]),
    ("Wait... what?! Fine…", ["Wait...", "what?!", "Fine…"]),
    ("Pi is 3.14 and e is 2.71. Done.", ["Pi is 3.14 and e is 2.71.", "Done."]),  # no space after the mark: no cut
    ("Title\n\nFirst line. Second\nthird", ["Title", "First line.", "Second", "third"]),
    ("비가 왔다. 그래서 집에 있었어요! 정말?", ["비가 왔다.", "그래서 집에 있었어요!", "정말?"]),
    ("文です。次の文！ 最後？", ["文です。次の文！", "最後？"]),  # full-width marks still need the space after them
    ("   leading and trailing   ", ["leading and trailing"]),
    ("An emoji 🦜. After it.", ["An emoji 🦜.", "After it."]),
    ("", []),
    (" \n\t ", []),
])
def test_sentences_follow_the_shared_rule(text, expected):
    assert sentences(text) == expected
    assert all(text[start:end] == sentence for (start, end), sentence in zip(sentence_spans(text), expected, strict=True))


def test_spans_count_code_points_not_bytes_or_utf16_units():
    text = "🦜🦜 end. 끝."
    assert sentence_spans(text) == [(0, 7), (8, 10)]  # each parrot is one code point (two UTF-16 units)


def test_windows_and_leave_one_out_texts():
    text = "One. Two. Three."
    spans = sentence_spans(text)
    assert windows(text, spans, width=0) == ["One.", "Two.", "Three."]
    assert windows(text, spans, width=5) == [text] * 3
    assert without_each(text, spans) == ["Two. Three.", "One.  Three.", "One. Two."]


@pytest.mark.parametrize("method", ["window", "alone", "leave_out"])
def test_each_method_scores_every_sentence_through_the_model(onnx_model, method):
    detector = load(onnx_model)
    text = "The river rose after the rain. We walked to the old bridge! It was gone, and so was the road."
    rows = sentence_scores(detector.scorer, text, method)
    assert [(row["start"], row["end"]) for row in rows] == sentence_spans(text)
    if method == "alone":
        expected = detector.scorer.probability_ai(sentences(text))
        assert [row["p_ai"] for row in rows] == pytest.approx(expected, abs=1e-6)
    elif method == "window":  # the middle sentence's window is the whole text
        assert rows[1]["p_ai"] == pytest.approx(detector.scorer.probability_ai([text])[0], abs=1e-6)
    else:
        document = detector.scorer.probability_ai([text])[0]
        without_first = detector.scorer.probability_ai([without_each(text, sentence_spans(text))[0]])[0]
        assert rows[0]["drop"] == pytest.approx(document - without_first, abs=1e-6)


def test_a_long_text_scores_a_bounded_number_of_sentences(onnx_model):
    detector = load(onnx_model)
    rows = sentence_scores(detector.scorer, "Short one. " * (MAX_SENTENCES + 50), "alone")
    assert len(rows) == MAX_SENTENCES
    with pytest.raises(ValueError, match="one of window, alone, leave_out"):
        sentence_scores(detector.scorer, "Text.", "median")


def test_predict_sentences_adds_spans_and_scores_that_the_api_gives(onnx_model, tmp_path):
    texts = ["The river rose after the rain. We walked to the bridge.", "비가 왔다. 그래서 집에 있었어요."]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "tinydetect", "predict", "--model", str(onnx_model), "--sentences",
                             str(source)], capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    expected = load(onnx_model).score(texts, sentences="window")
    assert [row["sentences"] for row in rows] == [row["sentences"] for row in expected]
    assert [[texts[i][s["start"]:s["end"]] for s in row["sentences"]] for i, row in enumerate(rows)] == [
        ["The river rose after the rain.", "We walked to the bridge."], ["비가 왔다.", "그래서 집에 있었어요."]]
    plain = subprocess.run([sys.executable, "-m", "tinydetect", "predict", "--model", str(onnx_model), str(source)],
                           capture_output=True, text=True, check=True)
    assert "sentences" not in json.loads(plain.stdout.splitlines()[0])
