"""Build the demo `data/real/` from human text that ships inside installed packages.

No text is copied into this repository. The demo is rebuilt, byte for byte the same,
from two pre-LLM, human-written sources:

- English: the Python Language Reference as shipped in the standard library
  (`pydoc_data.topics`), PSF License 2.0. Prose paragraphs only, code blocks dropped.
- Korean: the Constitution of the Republic of Korea (1987) and ten National Assembly
  bills (2010), bundled with `konlpy` (`konlpy.corpus.kolaw`, `kobill`). Statutes and
  bills are not protected works under Article 7 of the Korean Copyright Act.

The demo holds HUMAN texts only: the synth stage writes the AI side.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator

PYTHON_DOCS_SOURCE = f"Python {sys.version_info.major}.{sys.version_info.minor} Language Reference (pydoc_data.topics)"
PYTHON_DOCS_LICENCE = "PSF-2.0"
KOREAN_LAW_LICENCE = "public domain (Korean Copyright Act, Article 7)"

_SENTENCE_END_KO = re.compile(r"(?<=[다음함임]\.)\s+")
_ARTICLE_START = re.compile(r"\n\s*(?=제\d+조)")
_PAGE_MARK = re.compile(r"^\s*-\s*\d+\s*-\s*$")


def _prose_paragraphs(doc: str) -> Iterator[str]:
    """Paragraphs of running text in a reStructuredText-like help topic.

    Indented blocks (code, grammar), headings and their underlines are skipped.
    """
    for block in re.split(r"\n\s*\n", doc):
        lines = block.splitlines()
        if not lines or any(line.startswith((" ", "\t", "+", "|")) for line in lines):
            continue
        if any(re.fullmatch(r"[*=\-~^]{3,}", line.strip()) for line in lines):
            continue
        yield " ".join(line.strip() for line in lines)


def looks_like_prose(text: str) -> bool:
    """False for tables and cost sheets: too many digits, rules and bullets.

    >>> looks_like_prose("The cat sat."), looks_like_prose("| 12,712 | 22,000 | ---- |")
    (True, False)
    """
    noise = sum(char.isdigit() or char in "|+-=◦□○" for char in text)
    return noise / max(1, len(text)) < 0.08


def english_paragraphs(min_chars: int = 200, max_chars: int = 1200) -> list[str]:
    import pydoc_data.topics

    paragraphs = []
    for topic in sorted(pydoc_data.topics.topics):
        for paragraph in _prose_paragraphs(pydoc_data.topics.topics[topic]):
            if min_chars <= len(paragraph) <= max_chars and looks_like_prose(paragraph) and paragraph not in paragraphs:
                paragraphs.append(paragraph)
    return paragraphs


def chunk(pieces: Iterable[str], min_chars: int, max_chars: int, joiner: str = " ") -> list[str]:
    """Greedily join consecutive pieces into chunks of at least `min_chars`.

    >>> chunk(["aa", "bb", "cc"], min_chars=4, max_chars=10)
    ['aa bb', 'cc']
    """
    chunks, current = [], ""
    for piece in pieces:
        candidate = f"{current}{joiner}{piece}" if current else piece
        if current and len(candidate) > max_chars:
            chunks.append(current)
            candidate = piece
        current = candidate
        if len(current) >= min_chars:
            chunks.append(current)
            current = ""
    if current:
        chunks.append(current)
    return chunks


def _unwrap_bill(raw: str) -> str:
    """kobill files wrap lines mid-word with blank lines between; a kept trailing space marks a real space."""
    lines = [line for line in raw.splitlines() if line.strip() and not _PAGE_MARK.match(line)]
    body = re.sub(r"\s+", " ", "".join(lines)).strip()
    # The old-vs-new comparison table at the end is layout, not prose.
    return re.split(r"신\s*[ㆍ·]\s*구\s*조문\s*대비표", body)[0]


def korean_texts(min_chars: int = 150, max_chars: int = 900) -> list[tuple[str, str, str]]:
    """`(text, domain, source)` triples from the Korean constitution and bills."""
    from konlpy.corpus import kobill, kolaw

    constitution = kolaw.open("constitution.txt").read()
    articles = [re.sub(r"\s+", " ", a).strip() for a in _ARTICLE_START.split(constitution)]
    texts = [
        (text, "ko-law", "Constitution of the Republic of Korea (konlpy.corpus.kolaw)")
        for text in chunk(articles, min_chars, max_chars)
    ]
    for file_id in sorted(kobill.fileids()):
        body = _unwrap_bill(kobill.open(file_id).read())
        sentences = _SENTENCE_END_KO.split(body)
        texts += [
            (text, "ko-bill", f"National Assembly bill {file_id} (konlpy.corpus.kobill)")
            for text in chunk(sentences, min_chars, max_chars)
        ]
    return [t for t in texts if len(t[0]) >= min_chars // 2 and looks_like_prose(t[0])]


def build_demo_records(max_english: int = 240, max_korean: int = 200) -> list[dict]:
    """Deterministic demo records, English first, then Korean."""
    records = [
        {
            "id": f"demo-en-{index:04d}",
            "text": text,
            "label": "HUMAN",
            "lang": "en",
            "domain": "python-docs",
            "source": PYTHON_DOCS_SOURCE,
            "licence": PYTHON_DOCS_LICENCE,
        }
        for index, text in enumerate(english_paragraphs()[:max_english])
    ]
    records += [
        {
            "id": f"demo-ko-{index:04d}",
            "text": text,
            "label": "HUMAN",
            "lang": "ko",
            "domain": domain,
            "source": source,
            "licence": KOREAN_LAW_LICENCE,
        }
        for index, (text, domain, source) in enumerate(korean_texts()[:max_korean])
    ]
    return records
