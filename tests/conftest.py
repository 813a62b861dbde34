"""Shared fixtures: small data the tests make themselves, and paths to ../shared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinydetect.records import parse_record

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

ENGLISH_SENTENCES = [
    "The river rose slowly after three days of rain in the valley.",
    "Our neighbours planted tomatoes along the southern fence this spring.",
    "A quiet library is the best place to finish a long report.",
    "The train to the coast was late again because of signal repairs.",
    "She fixed the old radio with a soldering iron and some patience.",
    "Children in the park were flying kites shaped like dragons.",
]
KOREAN_SENTENCES = [
    "오늘 아침에는 비가 많이 와서 우산을 챙겨 나갔다.",
    "동네 빵집에서 갓 구운 식빵을 사 왔는데 정말 맛있었다.",
    "주말마다 한강 공원에서 자전거를 타는 것이 나의 취미이다.",
    "도서관에서 빌린 소설을 밤새 읽느라 잠을 거의 못 잤다.",
]


def make_human_rows(count: int) -> list[dict]:
    """`count` distinct human texts, two thirds English and one third Korean."""
    rows = []
    for index in range(count):
        sentences = KOREAN_SENTENCES if index % 3 == 2 else ENGLISH_SENTENCES
        start = index % len(sentences)
        text = " ".join(sentences[(start + k) % len(sentences)] for k in range(3)) + f" (note {index})"
        rows.append({"id": f"h{index:03d}", "text": text, "label": "HUMAN"})
    return rows


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def human_records():
    return [parse_record(row, default_id=row["id"]) for row in make_human_rows(60)]


@pytest.fixture
def labelled_records(human_records):
    """Human texts plus one AI 'rewrite' of each, sharing its group."""
    ai_records = [
        parse_record(
            {"id": f"{r.id}~ai", "text": r.text[::-1], "label": "AI", "group": r.group}, default_id=""
        )
        for r in human_records
    ]
    return human_records + ai_records


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent: this test needs ../shared/data beside the repo")
    return path
