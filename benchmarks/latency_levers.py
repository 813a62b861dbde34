"""Latency levers, each on its own row, and Hugging Face Optimum's ONNX Runtime path as a peer (`benchmarks.latency`).

For one trained source model (`models/detector` or `models/pruned`), each row is an ONNX graph built here from that
model, then timed the same way: one 128-token text at batch 1 on one thread (p50 over `runs`), end to end over the
real texts (tokenizer + model + softmax, one text at a time, one thread, p50/p95), and scored on the test split
(ROC-AUC, so a lever that loses quality shows it). Rows:

- `before`: what shipped before this benchmark's levers: inputs padded to the tokenizer's 512 tokens and ONNX
  Runtime's default session, whose load-time fusion puts SkipLayerNormalization back;
- `+dynamic_length`: the same graph with a dynamic sequence axis, each text sent unpadded;
- `shipped`: that plus the session the project ships (`runtime.onnx_scorer.onnx_session`: no load-time
  SkipLayerNormalization fusion); every lever below starts from it and changes one thing;
- `static_qdq` / `static_qoperator`: ORT static INT8 (per-channel weights, activations calibrated on val texts)
  instead of dynamic; `dynamic_per_channel`: dynamic INT8 with per-channel weight scales;
- `fast_gelu`: ORT's tanh approximation of GELU; `attention_fused` (pruned model only): ORT's `Attention` op on the
  narrower query/key/value of a pruned model; `level_basic` / `level_extended`: the session's graph optimization
  level instead of all.

The tokenizer lever is timed apart (`tokenizer_rows`): SentencePiece (what the scorers run) against the Rust
`tokenizers` runtime on the exported `tokenizer.json`, with whether they give identical ids on every real text.

The Optimum peer (`optimum_rows`): Optimum needs `transformers<4.58` where the project runs 5.x, so it runs in a venv
of its own (`.venv-optimum`, made here from `benchmarks/requirements-optimum.txt` when missing). It sees only what
Optimum can load: the encoder as a plain `BertForSequenceClassification` folder (no lexical branch, which is ours),
and a pruned model's narrower layers are not something `BertConfig` can say, so the peer is the unpruned encoder.
Beside it, our own export of the same encoder-only model, so the two rows differ only in the tool chain.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import REPO_ROOT
from benchmarks._common import SHORT_LENGTH, time_runs, token_batch

OPTIMUM_VENV = REPO_ROOT / ".venv-optimum"
OPTIMUM_REQUIREMENTS = REPO_ROOT / "benchmarks" / "requirements-optimum.txt"
CALIBRATION_TEXTS = 64


def session(path: Path, disabled_optimizers: list[str], level: str = "ORT_ENABLE_ALL"):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    options.graph_optimization_level = getattr(onnxruntime.GraphOptimizationLevel, level)
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                        disabled_optimizers=disabled_optimizers)


def percentiles(timings) -> tuple[float, float]:
    return round(float(np.percentile(timings, 50)), 3), round(float(np.percentile(timings, 95)), 3)


def time_row(run: Callable[[dict], object], encode: Callable[[list[str]], dict], feed: dict, texts: list[str],
             runs: int) -> dict:
    """p50 of the fixed feed; p50/p95 of tokenizer + model + softmax over each real text, one at a time."""
    from tinydetect.decision.probability import probability_ai
    from tinydetect.evaluation.latency import time_calls

    fixed = time_runs(run, feed, runs)
    row = {"p50_ms_128": percentiles(fixed)[0]}
    if texts:
        e2e = time_calls(lambda text: probability_ai(run(encode([text]))[0]), texts, warmup=5)
        row["e2e_p50_ms"], row["e2e_p95_ms"] = percentiles(e2e)
    return row


def test_roc_auc(run: Callable[[dict], object], encode: Callable[[list[str]], dict], workdir: Path) -> float:
    from sklearn.metrics import roc_auc_score

    from tinydetect.core.records import load_file
    from tinydetect.decision.probability import probability_ai

    test = load_file(workdir / "data/split/test.jsonl")
    scores = [float(probability_ai(run(encode([record.text]))[0])[0]) for record in test]
    return round(float(roc_auc_score([record.label == "AI" for record in test], scores)), 4)


def calibration_reader(tokenizer, texts: list[str]):
    from onnxruntime.quantization import CalibrationDataReader

    class ValTexts(CalibrationDataReader):
        """Val texts one at a time, unpadded, as the shipped scorer sends them."""

        def __init__(self):
            self.feeds = iter([tokenizer([text], pad_to_longest=True) for text in texts])

        def get_next(self):
            return next(self.feeds, None)

    return ValTexts()


def build_graphs(model, tokenizer, val_texts: list[str], scratch: Path) -> dict[str, Path]:
    """Every graph the rows need, from one PyTorch model, in `scratch`."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    from tinydetect.export import onnx as export

    length, fp32 = tokenizer.max_length, {}
    for name, dynamic_length in (("padded", False), ("dynamic", True)):
        export.export(model, scratch / f"{name}_plain.onnx", length, dynamic_batch=True, dynamic_length=dynamic_length)
        fp32[name] = scratch / f"{name}_fp32.onnx"
        export.optimize_detector(model, scratch / f"{name}_plain.onnx", fp32[name], fuse_skip_layer_norm=False)
    graphs = {"padded": scratch / "padded_int8.onnx", "dynamic": scratch / "dynamic_int8.onnx"}
    for name in graphs:
        export.quantize_int8(fp32[name], graphs[name])
    float_default = {"DefaultTensorType": onnx.TensorProto.FLOAT}
    graphs["dynamic_per_channel"] = scratch / "per_channel.onnx"
    quantize_dynamic(str(fp32["dynamic"]), str(graphs["dynamic_per_channel"]), weight_type=QuantType.QInt8,
                     per_channel=True, extra_options=float_default)
    calibration = val_texts[:CALIBRATION_TEXTS]
    for name, quant_format in (("static_qdq", QuantFormat.QDQ), ("static_qoperator", QuantFormat.QOperator)):
        # from the unfused graph: ORT's static quantizer cannot quantize its own fused Attention op
        graphs[name] = scratch / f"{name}.onnx"
        quantize_static(str(scratch / "dynamic_plain.onnx"), str(graphs[name]), calibration_reader(tokenizer, calibration),
                        quant_format=quant_format, per_channel=True, weight_type=QuantType.QInt8,
                        activation_type=QuantType.QUInt8, op_types_to_quantize=["MatMul", "Gather"],
                        extra_options=float_default)
    graphs["fast_gelu"] = fused_variant(model, scratch, "fast_gelu", gelu_approximation=True)
    heads = {layer.attention.self.num_attention_heads for layer in model.bert.encoder.layer}
    if heads != {model.config.num_attention_heads} and len(heads) == 1:
        graphs["attention_fused"] = fused_variant(model, scratch, "attention_fused", attention_heads=heads.pop())
    return graphs


def fused_variant(model, scratch: Path, name: str, gelu_approximation: bool = False, attention_heads: int = 0) -> Path:
    """The dynamic-length graph through ORT's BERT optimizer with one option changed, then dynamic INT8."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    from tinydetect.export.onnx import quantize_int8

    config = model.config
    options = FusionOptions("bert")
    options.enable_skip_layer_norm, options.enable_gelu_approximation = False, gelu_approximation
    head_size = config.hidden_size // config.num_attention_heads
    heads = attention_heads or config.num_attention_heads
    options.enable_attention = bool(attention_heads) or not any(
        layer.attention.self.num_attention_heads != heads for layer in model.bert.encoder.layer)
    # ORT's fusion reads the heads' count and width from these; a pruned model's attention is heads x 26 wide
    optimized = optimize_model(str(scratch / "dynamic_plain.onnx"), model_type="bert", num_heads=heads,
                               hidden_size=heads * head_size, optimization_options=options)
    optimized.save_model_to_file(str(scratch / f"{name}_fp32.onnx"))
    quantize_int8(scratch / f"{name}_fp32.onnx", scratch / f"{name}.onnx")
    return scratch / f"{name}.onnx"


def lever_rows(source: str, workdir: Path, texts: list[str], runs: int) -> dict[str, dict]:
    """Every lever's row for `models/<source>` (see the module docstring)."""
    from tinydetect.core.records import load_file
    from tinydetect.modeling.model import Detector
    from tinydetect.runtime.onnx_scorer import DISABLED_OPTIMIZERS

    detector = Detector.load(workdir / "models" / source)
    tokenizer = detector.tokenizer
    val_texts = [record.text for record in load_file(workdir / "data/split/val.jsonl")]
    padded = tokenizer  # pads every text to the tokenizer's length
    unpadded = lambda batch: tokenizer(batch, pad_to_longest=True)  # noqa: E731
    feed = token_batch(tokenizer.vocab_size, min(SHORT_LENGTH, tokenizer.max_length), 1)
    padded_feed = tokenizer_length_feed(feed, tokenizer.max_length)
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        graphs = build_graphs(detector.model, tokenizer, val_texts, Path(scratch))
        plan = [("before", graphs["padded"], [], "ORT_ENABLE_ALL", padded, padded_feed),
                ("+dynamic_length", graphs["dynamic"], [], "ORT_ENABLE_ALL", unpadded, feed),
                ("shipped", graphs["dynamic"], DISABLED_OPTIMIZERS, "ORT_ENABLE_ALL", unpadded, feed),
                ("level_basic", graphs["dynamic"], DISABLED_OPTIMIZERS, "ORT_ENABLE_BASIC", unpadded, feed),
                ("level_extended", graphs["dynamic"], DISABLED_OPTIMIZERS, "ORT_ENABLE_EXTENDED", unpadded, feed)]
        plan += [(name, graphs[name], DISABLED_OPTIMIZERS, "ORT_ENABLE_ALL", unpadded, feed)
                 for name in ("dynamic_per_channel", "static_qdq", "static_qoperator", "fast_gelu", "attention_fused")
                 if name in graphs]
        for name, graph, disabled, level, encode, row_feed in plan:
            print(f"  lever {source}/{name} ...", file=sys.stderr, flush=True)
            runner = session(graph, disabled, level)
            run = lambda inputs, runner=runner: runner.run(["logits"], inputs)  # noqa: E731
            rows[name] = {**time_row(run, encode, row_feed, texts, runs), "test_roc_auc": test_roc_auc(run, encode, workdir)}
    return rows


def tokenizer_length_feed(feed: dict[str, np.ndarray], length: int) -> dict[str, np.ndarray]:
    """`feed` padded to `length` tokens, as the padded graph was sent every text."""
    width = feed["input_ids"].shape[1]
    return {name: np.pad(array, ((0, 0), (0, length - width))) for name, array in feed.items()}


def tokenizer_rows(workdir: Path, texts: list[str]) -> dict[str, dict]:
    """SentencePiece against the Rust `tokenizers` runtime on tokenizer.json: ms per text, and identical ids."""
    from tinydetect.evaluation.latency import time_calls
    from tinydetect.modeling.tokenizer import DetectorTokenizer

    tokenizer = DetectorTokenizer.load(workdir / "models/detector")
    rust = tokenizer.to_hf_tokenizer()
    rust.no_padding()
    paths = {"sentencepiece": lambda text: tokenizer([text], pad_to_longest=True),
             "tokenizers_rust": lambda text: rust.encode(text).ids}
    rows = {name: dict(zip(("p50_ms", "p95_ms"), percentiles(time_calls(encode, texts, warmup=5)), strict=True))
            for name, encode in paths.items()}
    rows["tokenizers_rust"]["identical_ids"] = all(rust.encode(text).ids == tokenizer.encode_ids(text) for text in texts)
    return rows


def ensure_optimum_venv() -> Path:
    """`.venv-optimum` with `benchmarks/requirements-optimum.txt`, made when missing; its python."""
    python = OPTIMUM_VENV / "bin" / "python"
    stamp = OPTIMUM_VENV / ".installed"
    if not stamp.exists() or stamp.read_text() != OPTIMUM_REQUIREMENTS.read_text():
        print("making .venv-optimum (Optimum pins transformers<4.58) ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(OPTIMUM_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r", str(OPTIMUM_REQUIREMENTS)], check=True)
        stamp.write_text(OPTIMUM_REQUIREMENTS.read_text())
    return python


def encoder_only_folder(workdir: Path, folder: Path):
    """The detector's encoder as a plain `BertForSequenceClassification` folder that transformers 4.x loads.

    The lexical branch is dropped (Optimum knows nothing of it), and the classifier is refitted on the encoder's
    pooled output over the train split: the shipped classifier carries the val fusion's encoder weight, which is 0 on
    the demo (the branch alone decides there), and a head that gives every text the same logits could not tell a
    good export from a broken one. The token-type table gets a second row equal to the first: the model was built
    with one token type, and Optimum's exporter feeds random token types 0 and 1 to trace it; with both rows equal
    every token type embeds as type 0 did, so the logits are unchanged.
    """
    import torch

    from tinydetect.modeling.model import Detector

    detector = Detector.load(workdir / "models/detector")
    model = detector.model
    model.lexical = None
    refit_classifier(model, detector.tokenizer, workdir)
    embeddings = model.bert.embeddings
    two_types = torch.nn.Embedding(2, embeddings.token_type_embeddings.weight.shape[1])
    with torch.no_grad():
        two_types.weight.copy_(embeddings.token_type_embeddings.weight[0].expand(2, -1))
    embeddings.token_type_embeddings = two_types
    model.config.update({"lexical_buckets": 0, "type_vocab_size": 2})
    model.save_pretrained(folder)
    return model, detector.tokenizer


def refit_classifier(model, tokenizer, workdir: Path) -> None:
    """A logistic regression on the pooled output of the train texts, as the classifier (logit_AI - logit_HUMAN)."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from tinydetect.core.records import load_file

    train = load_file(workdir / "data/split/train.jsonl")
    length = model.config.max_position_embeddings
    pooled = []
    with torch.inference_mode():
        for start in range(0, len(train), 64):
            encoded = tokenizer([record.text for record in train[start : start + 64]], pad_to_longest=True)
            inputs = {name: torch.from_numpy(array[:, :length]) for name, array in encoded.items()}
            pooled.append(model.bert(**inputs).pooler_output.numpy())
    head = LogisticRegression(max_iter=2000).fit(np.concatenate(pooled), [record.label == "AI" for record in train])
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        model.classifier.weight[1] = torch.from_numpy(head.coef_[0]).float()
        model.classifier.bias[1] = float(head.intercept_[0])


def optimum_rows(workdir: Path, texts: list[str], runs: int) -> dict[str, dict]:
    """Optimum's export + avx512_vnni dynamic INT8 (ORT's default session, as `ORTModel` opens it) against ours on the
    same encoder-only model (our export, fusion and INT8, our session). The 512-token lexical branch is not in either."""
    from tinydetect.export import onnx as export
    from tinydetect.runtime.onnx_scorer import DISABLED_OPTIMIZERS

    python = ensure_optimum_venv()
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        model, tokenizer = encoder_only_folder(workdir, scratch / "encoder")
        report = subprocess.run([str(python), str(REPO_ROOT / "benchmarks/optimum_export.py"), str(scratch / "encoder"),
                                 str(scratch / "optimum")], capture_output=True, text=True)
        if report.returncode != 0:
            raise RuntimeError(f"Optimum's export failed:\n{report.stderr[-3000:]}")
        made = json.loads(report.stdout.strip().splitlines()[-1])
        length = model.config.max_position_embeddings
        export.export(model, scratch / "ours_plain.onnx", length, dynamic_batch=True, dynamic_length=True)
        export.optimize_detector(model, scratch / "ours_plain.onnx", scratch / "ours_fp32.onnx", False)
        export.quantize_int8(scratch / "ours_fp32.onnx", scratch / "ours_int8.onnx")
        encode = lambda batch: tokenizer(batch, pad_to_longest=True)  # noqa: E731
        plan = [("optimum_int8", Path(made["int8"]), [], True), ("optimum_fp32", Path(made["fp32"]), [], True),
                ("ours_int8", scratch / "ours_int8.onnx", DISABLED_OPTIMIZERS, False),
                ("ours_fp32", scratch / "ours_fp32.onnx", DISABLED_OPTIMIZERS, False)]
        for name, graph, disabled, token_types in plan:
            print(f"  peer {name} ...", file=sys.stderr, flush=True)
            runner = session(graph, disabled)
            run = peer_runner(runner, token_types, length)
            feed = token_batch(tokenizer.vocab_size, min(SHORT_LENGTH, length), 1)
            rows[name] = {**time_row(run, encode, feed, texts, runs), "test_roc_auc": test_roc_auc(run, encode, workdir)}
        rows["optimum_notes"] = made["notes"]
    return rows


def peer_runner(runner, token_types: bool, length: int):
    """Runs a graph on our tokenizer's feed: Optimum's graph also takes token_type_ids (all zero for one segment)."""
    def run(inputs):
        inputs = {name: array[:, :length] for name, array in inputs.items()}
        if token_types:
            inputs = {**inputs, "token_type_ids": np.zeros_like(inputs["input_ids"])}
        return runner.run(["logits"], inputs)

    return run

