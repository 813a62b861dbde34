"""ONNX variants of a detector (ONNX Runtime scores them: `tinydetect.runtime.scorers.OnnxScorer`).

One folder per source model (full or pruned) holds the tokenizer assets, `detector.json`
and four graphs, one per kind (file names: `tinydetect.runtime.variants`):

- `model_fixed.onnx`: fp32, fixed input shape (1, the tokenizer's length), plain ONNX ops only: the
  portable file for runtimes that want static shapes (mobile, browsers);
- `model.onnx`: fp32, dynamic batch (and, with `quantize.dynamic_length`, a dynamic sequence axis: a short text
  runs without padding), optimised by ONNX Runtime's BERT optimizer (fused
  attention, BiasGelu; SkipLayerNorm only with `quantize.fuse_skip_layer_norm`);
- `model_int8.onnx`: `model.onnx` with ORT dynamic INT8 (weights per tensor, activations
  quantized at run time);
- `model_int4.onnx`: weight-only INT4 per block of every linear layer (ORT `MatMulNBits`),
  made from the unfused graph so that query/key/value are quantized too. Embedding tables
  stay fp32: INT4 tables (`GatherBlockQuantized`) flipped 1.5-3% of val labels on the demo
  model, past the parity limit, so this file is larger than the INT8 one (whose tables are
  INT8). ORT raises the graph to opset 21 / IR 10 for the int4 type and warns about it.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
from onnxruntime.transformers.fusion_options import FusionOptions
from onnxruntime.transformers.optimizer import optimize_model

from tinydetect.export.traceable import INPUT_NAMES, OUTPUT_NAMES, ExportableDetector

OPSET = 17


def export(model: torch.nn.Module, path: str | Path, max_length: int, dynamic_batch: bool,
           dynamic_length: bool = False, wrapper: type[ExportableDetector] = ExportableDetector,
           output_names: list[str] = OUTPUT_NAMES) -> None:
    """`torch.onnx.export` of the detector: inputs int64 (batch, max_length), output `logits`.

    `dynamic_length` (with `dynamic_batch`) leaves the sequence axis open: inputs (batch, any length up to max_length),
    so a 40-token text costs 40 tokens of work, not max_length. Padding changes no logit (the lexical branch and
    attention mask it out): the test suite checks a padded and an unpadded text give the same logits.
    `wrapper` and `output_names` export another view of the same model (the web stage's embedding backbone).
    """
    example = (torch.ones(1, max_length, dtype=torch.long), torch.ones(1, max_length, dtype=torch.long))
    input_axes = {0: "batch", 1: "sequence"} if dynamic_length else {0: "batch"}
    dynamic_axes = {**{name: input_axes for name in INPUT_NAMES}, **{name: {0: "batch"} for name in output_names}}
    dynamic_axes = dynamic_axes if dynamic_batch else None
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of dynamo, but its graph is the one
        # ORT's transformer optimizer fuses, and it writes one self-contained file.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            wrapper(model), example, str(path), input_names=INPUT_NAMES, output_names=output_names,
            dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False,
        )


def optimize(source: str | Path, target: str | Path, num_heads: int, head_size: int, hidden_size: int,
             fuse_skip_layer_norm: bool = False) -> dict[str, int]:
    """ORT's offline BERT fusions; returns how many of each fused op it made.

    SkipLayerNormalization (residual add + LayerNorm in one op) is fused only when asked: on this CPU ONNX Runtime
    1.31's kernel took 0.32 ms for one [1, 128, 312] tensor, 23% of the pruned INT8 model's time (ORT's profiler,
    benchmarks/results/latency_fused_skip_layer_norm.json), and the unfused graph is faster (docs/variants.md).

    Attention is fused only when `num_heads` x `head_size` is the hidden size (every head kept). A pruned model's
    narrower attention (8 heads x 26 = 208 of 312) could be fused too, told 8 heads and 208 (one `Attention` op per
    layer, logits within 1e-6), but on this CPU it was no faster than the unfused ops (the `attention_fused` lever in
    benchmarks/results/latency.json), so there only LayerNorm/GELU fusions apply.
    """
    options = FusionOptions("bert")
    options.enable_attention = num_heads * head_size == hidden_size
    options.enable_skip_layer_norm = fuse_skip_layer_norm
    optimized = optimize_model(
        str(source), model_type="bert", num_heads=num_heads if options.enable_attention else 0,
        hidden_size=hidden_size if options.enable_attention else 0, optimization_options=options,
    )
    optimized.save_model_to_file(str(target))
    return {name: count for name, count in optimized.get_fused_operator_statistics().items() if count}


def optimize_detector(model: torch.nn.Module, source: str | Path, target: str | Path,
                      fuse_skip_layer_norm: bool) -> dict[str, int]:
    """`optimize` with the detector's shape: attention fused only where every layer keeps all its heads (a
    searched sub-network may narrow some layers and not others; ORT's fusion takes one head count)."""
    config = model.config
    layer_heads = [layer.attention.self.num_attention_heads for layer in model.bert.encoder.layer]
    heads = config.num_attention_heads if set(layer_heads) == {config.num_attention_heads} else 0
    head_size = config.hidden_size // config.num_attention_heads
    return optimize(source, target, heads, head_size, config.hidden_size, fuse_skip_layer_norm)


def export_int8(model: torch.nn.Module, path: str | Path, max_length: int, fuse_skip_layer_norm: bool) -> None:
    """Only the dynamic-batch INT8 graph, made as `export_variants` makes it (the NAS latency stage times it)."""
    with tempfile.TemporaryDirectory() as scratch:
        plain, fused = Path(scratch) / "plain.onnx", Path(scratch) / "fused.onnx"
        export(model, plain, max_length, dynamic_batch=True)
        optimize_detector(model, plain, fused, fuse_skip_layer_norm)
        quantize_int8(fused, path)


def quantize_int8(source: str | Path, target: str | Path, seven_bit_weights: bool = False) -> None:
    """ONNX Runtime's dynamic INT8. `seven_bit_weights` for a graph that must score the same on every CPU and in the
    browser: on x86 CPUs without VNNI (AVX2 alone, e.g. AMD Zen 2) ONNX Runtime's u8 x s8 kernel sums pairs of
    products in int16 and saturates, where WebAssembly's kernel does not (the page and Python disagreed by up to 0.03
    in P(AI) there); with 7-bit weights no pair can overflow. Not the default: it moves a text's INT8 logits with the
    padding it is batched with (by 8e-5 on the tests' tiny model), which the dynamic-length graphs promise not to."""
    quantize_dynamic(
        str(source), str(target), weight_type=QuantType.QInt8, reduce_range=seven_bit_weights,
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


def export_variants(model: torch.nn.Module, paths: dict[str, Path], max_length: int, block_size: int,
                    fuse_skip_layer_norm: bool = False, dynamic_length: bool = False) -> dict:
    """Every ONNX kind of one source model, to `paths[kind]`; returns what the optimizer and the INT4 pass did.

    Kinds: `fixed`, `fp32` (fused), `int8` (from the fused graph), `int4` (from the plain one); all but `fixed`
    with a dynamic sequence axis when `dynamic_length`.
    """
    export(model, paths["fixed"], max_length, dynamic_batch=False)
    with tempfile.TemporaryDirectory() as scratch:
        plain = Path(scratch) / "plain.onnx"
        export(model, plain, max_length, dynamic_batch=True, dynamic_length=dynamic_length)
        fused = optimize_detector(model, plain, paths["fp32"], fuse_skip_layer_norm)
        int4_ops = quantize_int4(plain, paths["int4"], block_size)
    quantize_int8(paths["fp32"], paths["int8"])
    return {"fused_ops": fused, "int4_ops": int4_ops}
