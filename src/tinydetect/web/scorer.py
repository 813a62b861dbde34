"""The page's Python twin: scores texts from a web assets folder alone, as the page does (no torch).

`tokenizer.json` through the Rust `tokenizers` runtime, the backbone on ONNX Runtime, the head in NumPy. The page's
own probabilities are checked against it (tests/test_web_browser.py), and the federated Python clients embed their
texts with it (tinydetect.federated.client).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinydetect.decision.probability import probability_ai
from tinydetect.modeling.detector_folder import read_threshold
from tinydetect.runtime.onnx_scorer import onnx_session
from tinydetect.web.head import Head

BACKBONE_FILE, HEAD_FILE, TOKENIZER_FILE = "backbone.onnx", "head.json", "tokenizer.json"
CHARMAP_FILE, SETTINGS_FILE = "charmap.json", "settings.json"
EMBEDDING = "embedding"


class WebBackbone:
    """The assets' tokenizer and backbone: texts -> embeddings, one text at a time, unpadded, as the page runs them."""

    def __init__(self, folder: str | Path, threads: int | None = None):
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.session = onnx_session(folder / BACKBONE_FILE, threads)
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))

    def ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids

    def embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """(texts, features)."""
        rows = []
        for text in texts:
            ids = np.asarray([self.ids(text)], dtype=np.int64)
            rows.append(self.session.run([EMBEDDING], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0])
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


class WebScorer(WebBackbone):
    """Scores texts from a web assets folder alone, as the page does: tokenizer.json, backbone, head, threshold."""

    def __init__(self, folder: str | Path, threads: int | None = None):
        super().__init__(folder, threads)
        self.head = Head.from_json(json.loads((Path(folder) / HEAD_FILE).read_text()))
        self.threshold = read_threshold(folder)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        return self.head.logits(self.embeddings(texts))

    def probability_ai(self, texts: Sequence[str]) -> np.ndarray:
        return probability_ai(self.logits(texts))


def precompiled_charmap(tokenizer_json: dict) -> dict[str, str]:
    """The tokenizer's `Precompiled` normalizer as a table, character -> output, for every code point it changes.

    The page's tokenizer library (tokenizers.js) does not read the precompiled map; the page runs this table in its
    place (web/src/tokenizer.ts). It is read off the Rust runtime's own normalizer one code point at a time. The map
    works on grapheme clusters, but the normalizer composes text (NFC) before it, so the clusters it sees are single
    code points but for rare sequences; the browser tests check the page's ids against the runtime's.
    """
    from tokenizers import normalizers

    steps = tokenizer_json["normalizer"].get("normalizers", [tokenizer_json["normalizer"]])
    precompiled = [step for step in steps if step["type"] == "Precompiled"]
    if not precompiled:
        return {}
    normalizer = normalizers.Precompiled(base64.b64decode(precompiled[0]["precompiled_charsmap"]))
    table = {}
    for code_point in range(0x110000):
        if 0xD800 <= code_point <= 0xDFFF:  # surrogates are not characters
            continue
        character = chr(code_point)
        output = normalizer.normalize_str(character)
        if output != character:
            table[character] = output
    return table
