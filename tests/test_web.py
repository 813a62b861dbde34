"""The web page's assets: backbone + head + tokenizer.json score texts as the detector does (tinydetect.web)."""

import json

import numpy as np
import onnx
import pytest
import torch

from tinydetect.core.config import ModelConfig, TokenizerConfig
from tinydetect.decision.threshold import Threshold
from tinydetect.modeling.lexical import LexicalBranch
from tinydetect.modeling.model import Detector, build_model
from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece
from tinydetect.web.assets import write_assets
from tinydetect.web.scorer import BACKBONE_FILE, HEAD_FILE, TOKENIZER_FILE, WebScorer

from .conftest import make_human_rows

TINY = ModelConfig(num_hidden_layers=2, hidden_size=48, num_attention_heads=4, intermediate_size=96, max_length=32,
                   lexical_buckets=64)
TEXTS = [row["text"] for row in make_human_rows(24)] + ["오늘은 비가 많이 왔다. 우산을 챙겼다.", "Short."]


@pytest.fixture(scope="module")
def detector():
    tokenizer = DetectorTokenizer(train_sentencepiece(TEXTS, TokenizerConfig(vocab_size=600), seed=0), max_length=64)
    model = build_model(TINY, tokenizer.vocab_size, seed=0).eval()
    with torch.no_grad():  # a branch with an opinion, so its feature matters
        torch.nn.init.normal_(model.lexical.weights.weight, std=1.0)
    assert isinstance(model.lexical, LexicalBranch)
    return Detector(model, tokenizer, threshold=Threshold(0.5, {"ko": 0.4}))


@pytest.fixture(scope="module", params=["fp32", "int8"])
def assets(detector, tmp_path_factory, request):
    folder = tmp_path_factory.mktemp(f"web-{request.param}")
    write_assets(detector, folder, request.param, fuse_skip_layer_norm=False, train_texts=TEXTS)
    return folder, request.param


def test_the_assets_score_texts_as_the_detector_does(detector, assets):
    folder, kind = assets
    scorer = WebScorer(folder)
    tolerance = 1e-4 if kind == "fp32" else 0.05  # INT8: activations quantized per call
    assert np.abs(scorer.probability_ai(TEXTS) - detector.probability_ai(TEXTS)).max() < tolerance
    assert scorer.threshold == detector.threshold


def test_the_untrained_head_is_the_classifier_plus_the_branch_over_standardized_features(detector, assets):
    folder, _ = assets
    head = json.loads((folder / HEAD_FILE).read_text())
    weight, scale = np.asarray(head["weight"]), np.asarray(head["scale"])
    hidden = TINY.hidden_size
    assert weight.shape == (2, 2 * hidden + 1) and len(head["bias"]) == 2 and len(head["mean"]) == 2 * hidden + 1
    raw = weight / scale  # the weights on the embedding as it is
    np.testing.assert_allclose(raw[:, :hidden], detector.model.classifier.weight.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(raw[:, hidden], [0.0, 1.0], atol=1e-9)  # the branch's logit goes to AI, as in the model
    assert not raw[:, hidden + 1:].any()  # the mean embedding waits for feedback
    assert scale.min() >= 1e-2


def test_the_backbone_takes_any_length_and_returns_the_embedding(assets):
    folder, kind = assets
    graph = onnx.load(str(folder / BACKBONE_FILE)).graph
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask"] and graph.output[0].name == "embedding"
    assert [d.dim_param for d in graph.input[0].type.tensor_type.shape.dim] == ["batch", "sequence"]
    ops = {node.op_type for node in graph.node}
    assert ("DynamicQuantizeMatMul" in ops or "MatMulInteger" in ops) == (kind == "int8")


def test_tokenizer_json_gives_the_detector_s_ids_unpadded(detector, assets):
    from tokenizers import Tokenizer

    folder, _ = assets
    tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    for text in TEXTS:
        assert tokenizer.encode(text).ids == detector.tokenizer.encode_ids(text)
    assert not (folder / "tokenizer.model").exists()  # the page loads tokenizer.json only
