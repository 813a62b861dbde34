"""The browser and federated tests' shared pieces: a tiny detector's web assets, the built page, the FL server.

The fixtures are session-wide (declared in conftest.py): tests/test_web_browser.py and tests/test_federated.py share
one set of assets and one build of the page.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from tinydetect.core.config import ModelConfig, TokenizerConfig
from tinydetect.evaluation.threshold import Threshold
from tinydetect.modeling.model import Detector, build_model
from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece
from tinydetect.serving.environment import serving_python
from tinydetect.serving.process import free_ports
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
VAL_TEXTS = HUMAN[:10] + AI[:10] + EDGE_TEXTS


def split_feedback(offset: int, per_label: int) -> list[dict]:
    return ([{"text": text, "label": "HUMAN"} for text in HUMAN[offset:offset + per_label]]
            + [{"text": text, "label": "AI"} for text in AI[offset:offset + per_label]])


@pytest.fixture(scope="session")
def web_assets(tmp_path_factory) -> Path:
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
    folder = tmp_path_factory.mktemp("web-assets")
    write_assets(Detector(model, tokenizer, threshold=Threshold(0.5, {"ko": 0.45})), folder, "int8",
                 fuse_skip_layer_norm=False)
    return folder


@pytest.fixture(scope="session")
def web_page_dir(tmp_path_factory) -> Path:
    return build_page(tmp_path_factory.mktemp("web-dist"))


def call(url: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def wait_for(check, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_federated_server(assets: Path, page_dir: Path, log: Path, clients: int, output: Path):
    http_port, flower_port = free_ports(2)
    command = [str(serving_python()), "-m", "tinydetect.federated", "server", "--model", str(assets), "--page",
               str(page_dir), "--port", str(http_port), "--flower-port", str(flower_port), "--clients", str(clients),
               "--round-timeout", "120", "--output", str(output)]
    process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{http_port}"

    def up():
        if process.poll() is not None:
            raise AssertionError(f"the FL server exited:\n{log.read_text()[-3000:]}")
        try:
            return call(f"{base}/api/status")
        except OSError:
            return None

    wait_for(up, "the FL server")
    return process, base, f"127.0.0.1:{flower_port}"


def start_python_client(data: Path, flower: str, base: str, assets: Path, output: Path, log: Path) -> subprocess.Popen:
    """`tinydetect federated client` on `data`, in the serving venv (where Flower is)."""
    command = [str(serving_python()), "-m", "tinydetect.federated", "client", str(data), "--server", flower, "--http",
               base, "--model", str(assets), "--output", str(output)]
    return subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
