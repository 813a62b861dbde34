"""Pruning, PyTorch INT8 and ONNX variants of a tiny detector: smaller, loadable, and faithful."""

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from transformers import BertConfig

from tinydetect.compression.pruning import importance, prune
from tinydetect.compression.quantization import load_int8, quantize_int8, save_int8
from tinydetect.core.config import ModelConfig, TokenizerConfig
from tinydetect.core.errors import UserError
from tinydetect.decision.threshold import Threshold
from tinydetect.evaluation.parity import check_parity
from tinydetect.export import onnx as onnx_export
from tinydetect.modeling.model import Detector, DetectorModel, build_model, count_parameters
from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece
from tinydetect.runtime.scorers import load_scorer
from tinydetect.runtime.variants import model_size_mb

from .conftest import make_human_rows

TINY = ModelConfig(lexical_buckets=0, num_hidden_layers=2, hidden_size=48, num_attention_heads=4, intermediate_size=96, max_length=32)
TEXTS = [row["text"] for row in make_human_rows(24)]


@pytest.fixture(scope="module")
def detector():
    tokenizer = DetectorTokenizer(train_sentencepiece(TEXTS, TokenizerConfig(vocab_size=600), seed=0), max_length=32)
    return Detector(build_model(TINY, tokenizer.vocab_size, seed=0).eval(), tokenizer, threshold=Threshold(0.5))


def batches(detector, count=2):
    encoded = detector.tokenizer(TEXTS[: 8 * count])
    labels = torch.tensor([index % 2 for index in range(8 * count)])
    return [
        {"input_ids": torch.from_numpy(encoded["input_ids"][i : i + 8]),
         "attention_mask": torch.from_numpy(encoded["attention_mask"][i : i + 8]), "labels": labels[i : i + 8]}
        for i in range(0, 8 * count, 8)
    ]


def pruned_copy(detector):
    model = DetectorModel(detector.model.config.__class__.from_dict(detector.model.config.to_dict()))
    model.load_state_dict(detector.model.state_dict())
    return prune(model, importance(model, batches(detector)), head_fraction=0.5, neuron_fraction=0.5, neuron_multiple=8)


def test_pruning_removes_heads_and_neurons_and_still_loads(detector, tmp_path):
    model = pruned_copy(detector)
    layer = model.bert.encoder.layer[0]
    assert layer.attention.self.query.weight.shape == (2 * 12, 48)  # 2 of 4 heads of size 12
    assert layer.attention.output.dense.weight.shape == (48, 24)
    assert layer.intermediate.dense.weight.shape == (48, 48) and layer.output.dense.weight.shape == (48, 48)
    assert count_parameters(model) < count_parameters(detector.model)
    pruned = Detector(model, detector.tokenizer, Threshold(0.5))
    pruned.save(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["layer_heads"] == [2, 2] and saved["layer_intermediate_sizes"] == [48, 48]
    reloaded = DetectorModel.from_pretrained(tmp_path)
    assert count_parameters(reloaded) == count_parameters(model)
    np.testing.assert_allclose(Detector.load(tmp_path).logits(TEXTS), pruned.logits(TEXTS), atol=1e-5)
    assert model_size_mb(tmp_path) < 0.85 * count_parameters(detector.model) * 4 / 1e6


def test_pruning_drops_the_head_that_does_nothing(detector):
    model = DetectorModel(BertConfig.from_dict(detector.model.config.to_dict()))
    model.load_state_dict(detector.model.state_dict())
    with torch.no_grad():  # head 1 of layer 0 outputs zeros: its gate cannot change the loss
        model.bert.encoder.layer[0].attention.self.value.weight[12:24] = 0
        model.bert.encoder.layer[0].attention.self.value.bias[12:24] = 0
    scores = importance(model, batches(detector))
    assert scores.heads[0].argmin() == 1 and scores.heads[0][1] == pytest.approx(0.0, abs=1e-6)
    assert scores.neurons.shape == (2, 96)


def test_int8_is_smaller_close_and_round_trips(detector, tmp_path):
    int8 = Detector(quantize_int8(detector.model), detector.tokenizer, detector.threshold)
    assert np.abs(int8.logits(TEXTS) - detector.logits(TEXTS)).max() < 0.1
    save_int8(int8, tmp_path / "int8")
    detector.save(tmp_path / "fp32")
    assert model_size_mb(tmp_path / "int8") < 0.5 * model_size_mb(tmp_path / "fp32")
    np.testing.assert_array_equal(load_int8(tmp_path / "int8").logits(TEXTS), int8.logits(TEXTS))
    assert isinstance(load_scorer(tmp_path / "int8").model.classifier, torch.ao.nn.quantized.dynamic.Linear)


@pytest.fixture(scope="module")
def onnx_folder(detector, tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    detector.save(folder)
    paths = {kind: folder / f"{kind}.onnx" for kind in ("fixed", "fp32", "int8", "int4")}
    report = onnx_export.export_variants(detector.model, paths, max_length=32, block_size=16, dynamic_length=True)
    return folder, report["fused_ops"], report["int4_ops"]


@pytest.mark.parametrize(("kind", "tolerance"), [("fixed", 1e-4), ("fp32", 1e-4), ("int8", 0.1), ("int4", 0.1)])
def test_onnx_variants_match_pytorch(detector, onnx_folder, kind, tolerance):
    folder, _, _ = onnx_folder
    scorer = load_scorer(folder / f"{kind}.onnx")
    assert np.abs(scorer.logits(TEXTS) - detector.logits(TEXTS)).max() < tolerance
    assert scorer.threshold == detector.threshold


def test_onnx_graphs_have_the_promised_shapes_and_ops(onnx_folder):
    folder, fused, int4_ops = onnx_folder
    fixed = onnx.load(str(folder / "fixed.onnx")).graph
    assert [d.dim_value for d in fixed.input[0].type.tensor_type.shape.dim] == [1, 32]
    assert [i.name for i in fixed.input] == ["input_ids", "attention_mask"] and fixed.output[0].name == "logits"
    assert fused.get("Attention") == 2 and "SkipLayerNormalization" not in fused  # quantize.fuse_skip_layer_norm
    assert "SkipLayerNormalization" not in {node.op_type for node in onnx.load(str(folder / "fp32.onnx")).graph.node}
    assert int4_ops["MatMulNBits"] == 2 * 6  # q, k, v, attention out, FFN in, FFN out per layer
    int8_ops = {node.op_type for node in onnx.load(str(folder / "int8.onnx")).graph.node}
    assert int8_ops & {"DynamicQuantizeMatMul", "MatMulInteger", "QAttention"}


@pytest.mark.parametrize("kind", ["fp32", "int8", "int4"])
def test_dynamic_length_graphs_score_a_text_unpadded_as_they_score_it_padded(detector, onnx_folder, kind):
    """quantize.dynamic_length: the scorer sends each batch padded to its longest text, and padding changes no logit."""
    folder, _, _ = onnx_folder
    scorer = load_scorer(folder / f"{kind}.onnx")
    assert scorer.pad_to_longest and scorer.runner.get_inputs()[0].shape[1] == "sequence"
    short, long = "Short one.", "A much longer text about rivers, hills and the rain that fell all week. " * 3
    unpadded = scorer.tokenizer([short], pad_to_longest=True)
    assert unpadded["input_ids"].shape[1] < scorer.tokenizer.max_length and unpadded["attention_mask"].all()
    padded = scorer.tokenizer([short])
    np.testing.assert_allclose(scorer.runner.run(["logits"], unpadded)[0], scorer.runner.run(["logits"], padded)[0],
                               atol=1e-5)
    batch = scorer.tokenizer([short, long], pad_to_longest=True)
    assert batch["input_ids"].shape[1] == len(scorer.tokenizer.encode_ids(long)) and not batch["attention_mask"][0].all()
    # dynamic INT8 quantizes activations with one scale per tensor, so a text's batch-mates move its logits a little
    np.testing.assert_allclose(scorer.logits([short, long]), np.concatenate([scorer.logits([short]), scorer.logits([long])]),
                               atol=1e-3 if kind == "int8" else 1e-5)


def test_the_fixed_graph_keeps_its_length(onnx_folder):
    folder, _, _ = onnx_folder
    scorer = load_scorer(folder / "fixed.onnx")
    assert not scorer.pad_to_longest and scorer.logits(["Short one."]).shape == (1, 2)


def test_parity_failure_names_variant_and_limit():
    source = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    flipped = source.copy()
    flipped[0] = [1.0, 0.0]
    assert check_parity("x", "src", source, source, 0.5, 0.0, "quantize.max_label_disagreement")["label_agreement"] == 1.0
    with pytest.raises(UserError, match=r"x disagrees with src on 25.0% of the val labels \(limit 1.0%, quantize.max"):
        check_parity("x", "src", source, flipped, 0.5, 0.01, "quantize.max_label_disagreement")
    # a Core ML package names the Core ML limit, not the quantize one (it named quantize's before)
    with pytest.raises(UserError, match=r"\(limit 2.0%, coreml.max_label_disagreement in params.yaml\)"):
        check_parity("coreml_int4", "detector", source, flipped, 0.5, 0.02, "coreml.max_label_disagreement")


def test_parity_does_not_count_flips_of_texts_on_the_fence():
    """A 1%-FPR cut can sit where val scores crowd: texts right at it flip under any rounding of the weights."""
    threshold = 0.9  # logit margin 2.197
    cut = np.log(9.0)
    source = np.array([[0.0, cut + 0.05], [0.0, cut - 0.05], [0.0, cut + 3.0], [0.0, cut - 3.0]])
    nudged = source + np.array([[0.0, -0.1], [0.0, 0.1], [0.0, 0.0], [0.0, 0.0]])  # both fence-sitters cross
    result = check_parity("x", "src", source, nudged, threshold, 0.0, "quantize.max_label_disagreement", margin=0.25)
    assert result["label_agreement"] == 0.5 and result["decided_label_agreement"] == 1.0
    flipped = nudged.copy()
    flipped[2] = [0.0, cut - 1.0]  # a text the source was sure about changes side: that is a real difference
    with pytest.raises(UserError, match=r"on 50.0% of the val labels not within 0.25 logits of the threshold"):
        check_parity("x", "src", source, flipped, threshold, 0.0, "quantize.max_label_disagreement", margin=0.25)


def test_predict_cli_accepts_an_onnx_file(onnx_folder, tmp_path):
    folder, _, _ = onnx_folder
    (tmp_path / "texts.txt").write_text("The river rose after rain.\n오늘은 비가 왔다.\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "tinydetect", "predict", "--model", str(folder / "int8.onnx"), str(tmp_path / "texts.txt")],
        capture_output=True, text=True, check=True,
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["id"] for row in rows] == ["1", "2"] and all(0 <= row["p_ai"] <= 1 for row in rows)


def test_predict_cli_names_a_missing_model(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tinydetect", "predict", "--model", str(tmp_path / "nope.onnx"), "-"],
        input="text\n", capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2 and "nope.onnx: no such model" in result.stderr
