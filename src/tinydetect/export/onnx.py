"""ONNX variants of a detector, and a scorer that runs them with ONNX Runtime.

One folder per source model (full or pruned) holds the tokenizer assets, `detector.json`
and four graphs:

- `model_1x128.onnx`: fp32, fixed input shape (1, max_length), plain ONNX ops only: the
  portable file for runtimes that want static shapes (mobile, browsers);
- `model.onnx`: fp32, dynamic batch, optimised by ONNX Runtime's BERT optimizer (fused
  attention, SkipLayerNorm, BiasGelu);
- `model_int8.onnx`: `model.onnx` with ORT dynamic INT8 (weights per tensor, activations
  quantized at run time);
- `model_int4.onnx`: weight-only INT4 per block of every linear layer (ORT `MatMulNBits`),
  made from the unfused graph so that query/key/value are quantized too. Embedding tables
  stay fp32: INT4 tables (`GatherBlockQuantized`) flipped 1.5-3% of val labels on the demo
  model, past the parity limit, so this file is larger than the INT8 one (whose tables are
  INT8). ORT raises the graph to opset 21 / IR 10 for the int4 type and warns about it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
from onnxruntime.transformers.fusion_options import FusionOptions
from onnxruntime.transformers.optimizer import optimize_model

from tinydetect.export.traceable import INPUT_NAMES, OUTPUT_NAMES, ExportableDetector
from tinydetect.modeling.model import probability_ai, read_threshold
from tinydetect.modeling.tokenizer import DetectorTokenizer

FIXED_FILE = "model_1x128.onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
INT4_FILE = "model_int4.onnx"
OPSET = 17


def export(model: torch.nn.Module, path: str | Path, max_length: int, dynamic_batch: bool) -> None:
    """`torch.onnx.export` of the detector: inputs int64 (batch, max_length), output `logits`."""
    example = (torch.ones(1, max_length, dtype=torch.long), torch.ones(1, max_length, dtype=torch.long))
    dynamic_axes = {name: {0: "batch"} for name in INPUT_NAMES + OUTPUT_NAMES} if dynamic_batch else None
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of dynamo, but its graph is the one
        # ORT's transformer optimizer fuses, and it writes one self-contained file.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            ExportableDetector(model), example, str(path), input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
            dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False,
        )


def optimize(source: str | Path, target: str | Path, num_heads: int, head_size: int, hidden_size: int) -> dict[str, int]:
    """ORT's offline BERT fusions; returns how many of each fused op it made.

    ORT's `Attention` op assumes query/key/value as wide as the hidden state, which a
    pruned model no longer has (8 heads x 26 = 208 < 312): there, attention stays unfused
    and only LayerNorm/GELU fusions apply.
    """
    options = FusionOptions("bert")
    options.enable_attention = num_heads * head_size == hidden_size
    optimized = optimize_model(
        str(source), model_type="bert", num_heads=num_heads if options.enable_attention else 0,
        hidden_size=hidden_size if options.enable_attention else 0, optimization_options=options,
    )
    optimized.save_model_to_file(str(target))
    return {name: count for name, count in optimized.get_fused_operator_statistics().items() if count}


def quantize_int8(source: str | Path, target: str | Path) -> None:
    quantize_dynamic(
        str(source), str(target), weight_type=QuantType.QInt8,
        # fused ORT ops (Attention, BiasGelu) carry no type information for shape inference
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def quantize_int4(source: str | Path, target: str | Path, block_size: int) -> dict[str, int]:
    """Weight-only symmetric INT4 of every MatMul with a constant weight; returns op counts after."""
    quantizer = MatMulNBitsQuantizer(
        onnx.load(str(source)), bits=4, block_size=block_size, is_symmetric=True, op_types_to_quantize=("MatMul",)
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(target))
    op_types = [node.op_type for node in quantizer.model.model.graph.node]
    # the MatMuls left are attention's activation x activation products, which have no weight
    return {op: op_types.count(op) for op in ("MatMulNBits", "MatMul")}


def session(path: str | Path, threads: int | None = None) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def fixed_batch_size(runner: onnxruntime.InferenceSession) -> int | None:
    """1 for a graph exported with a fixed batch, None for a dynamic one."""
    batch = runner.get_inputs()[0].shape[0]
    return batch if isinstance(batch, int) else None


class OnnxDetector:
    """Scores texts with an `.onnx` file and the tokenizer and threshold in its folder."""

    def __init__(self, path: str | Path, threads: int | None = None):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such ONNX model; run `dvc repro onnx`")
        self.path = path
        self.runner = session(path, threads)
        self.tokenizer = DetectorTokenizer.load(path.parent)
        self.threshold = read_threshold(path.parent)
        self.batch_size = fixed_batch_size(self.runner) or 64

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        batches = [
            self.runner.run(OUTPUT_NAMES, self.tokenizer(texts[start : start + self.batch_size]))[0]
            for start in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(batches) if batches else np.zeros((0, 2), dtype=np.float32)

    def probability_ai(self, texts: Sequence[str]) -> np.ndarray:
        return probability_ai(self.logits(texts))
