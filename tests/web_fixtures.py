"""The browser and federated tests' shared pieces: a tiny detector's web assets, the built page, the FL server.

The fixtures are session-wide (declared in conftest.py): tests/test_web_browser.py and tests/test_federated.py share
one set of assets and one build of the page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tinydetect.core.config import ModelConfig, TokenizerConfig
from tinydetect.core.records import guess_lang
from tinydetect.decision.familiarity import Familiarity
from tinydetect.decision.threshold import Threshold
from tinydetect.modeling.model import Detector, build_model
from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece
from tinydetect.web.assets import write_assets
from tinydetect.web.browser import build_page

from .conftest import make_human_rows

TINY = ModelConfig(num_hidden_layers=2, hidden_size=48, num_attention_heads=4, intermediate_size=96, max_length=64,
                   lexical_buckets=64)
HUMAN = [row["text"] for row in make_human_rows(90)]
AI = [text[::-1] for text in HUMAN]  # the "AI" texts of these tests: reversed, so a head can learn them apart
# texts that exercise the tokenizer's gaps in tokenizers.js: the robust normalizer (zero-width spaces, Cyrillic
# look-alikes, capitals folded), byte fallback (an emoji, a rare Hangul syllable), Korean compatibility jamo
EDGE_TEXTS = ["The\u200b quick\u200b brown fox", "Тhе сat sat оn a mat.", "SHOUTING IN CAPITALS",
              "An emoji 🦜 and a rare syllable 똠 here.", "ㅋㅋㅋ 정말 웃기다 ㅠㅠ", "Short.", "é vs e\u0301"]
# words no train text holds: UNSURE, "unlike the texts the model was trained on", on the page as in Python
UNFAMILIAR_TEXT = "Quantum chromodynamics binds quarks and gluons inside every hadron we observe."
VAL_TEXTS = HUMAN[:10] + AI[:10] + EDGE_TEXTS + [UNFAMILIAR_TEXT]


def split_feedback(offset: int, per_label: int) -> list[dict]:
    return ([{"text": text, "label": "HUMAN"} for text in HUMAN[offset:offset + per_label]]
            + [{"text": text, "label": "AI"} for text in AI[offset:offset + per_label]])


def tiny_web_assets(folder: Path, kind: str) -> Path:
    """A tiny random-weight detector's web assets (`kind`: int8 or fp32) in `folder`."""
    tokenizer = DetectorTokenizer(train_sentencepiece(HUMAN + AI, TokenizerConfig(vocab_size=700), seed=0),
                                  max_length=64)
    model = build_model(TINY, tokenizer.vocab_size, seed=0).eval()
    # BERT's initial std of 0.02 maps every text to nearly the same pooled vector; at 0.3 the untrained backbone's
    # features differ from text to text, as a trained one's do, so a head can learn from them
    torch.manual_seed(0)
    with torch.no_grad():
        for weight in model.parameters():
            if weight.dim() > 1:
                torch.nn.init.normal_(weight, std=0.3)
    # three labels, so the page's rule is checked against Python's on every branch (EDGE_TEXTS has short texts)
    train_texts = HUMAN[:40] + AI[:40]
    familiarity = Familiarity.fit(train_texts, HUMAN[40:80] + AI[40:80], [guess_lang(text) for text in HUMAN[40:80] * 2],
                                  flagged_share=0.05)
    threshold = Threshold(0.5, {"ko": 0.45}, human=0.48, human_by_language={"ko": 0.43}, languages=("en", "ko"),
                          min_words=3, familiarity=familiarity)
    write_assets(Detector(model, tokenizer, threshold=threshold), folder, kind,
                 fuse_skip_layer_norm=False, train_texts=train_texts)
    return folder


@pytest.fixture(scope="session")
def web_assets(tmp_path_factory) -> Path:
    return tiny_web_assets(tmp_path_factory.mktemp("web-assets"), "int8")


@pytest.fixture(scope="session")
def web_page_dir(tmp_path_factory) -> Path:
    return build_page(tmp_path_factory.mktemp("web-dist"))
