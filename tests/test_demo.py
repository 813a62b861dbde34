from collections import Counter

from tinydetect.core.records import parse_record
from tinydetect.data.demo import build_demo_records, chunk


def test_demo_is_deterministic_bilingual_and_labelled():
    records = build_demo_records(max_english=40, max_korean=30)
    assert records == build_demo_records(max_english=40, max_korean=30)
    assert Counter(r["lang"] for r in records) == {"en": 40, "ko": 30}
    assert {r["label"] for r in records} == {"HUMAN"}
    assert all(r["source"] and r["licence"] for r in records)
    assert len({r["id"] for r in records}) == len(records)
    for record in records:
        parse_record(record, default_id="unused")


def test_demo_texts_are_prose_not_code():
    records = build_demo_records(max_english=300, max_korean=200)
    assert len(records) > 400
    assert not any(">>>" in r["text"] or "-----" in r["text"] for r in records)
    assert min(len(r["text"]) for r in records) >= 75


def test_chunk_keeps_every_piece_in_order():
    pieces = [f"p{i}" * (i + 1) for i in range(12)]
    chunks = chunk(pieces, min_chars=10, max_chars=30)
    assert " ".join(chunks).split() == pieces
