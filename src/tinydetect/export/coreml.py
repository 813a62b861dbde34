"""Core ML packages of a detector, and their parity with PyTorch checked on Linux.

Each package takes `input_ids` and `attention_mask` (int32, 1 x max_length) and returns
`logits` (1 x 2), converted with coremltools (`mlprogram`, fixed shapes, fp16 compute):

| variant | weights | deployment target |
|---|---|---|
| fp16 | fp16 | iOS 16 / macOS 13 |
| int8 | INT8 per output channel | iOS 16 / macOS 13 |
| int4 | INT4 per block (block size chosen from the model's shapes) | iOS 18 / macOS 15 |
| palettized4 | 4-bit k-means lookup table per 16 output channels | iOS 18 / macOS 15 |
| w8a8 | INT8 weights and activations (Neural Engine int8 path) | iOS 17 / macOS 14; built on macOS only |

`MLModel.predict` runs only on macOS, so parity is checked another way: the MIL program
and its weights are read back from the saved package, every compressed weight is
dequantized (`materialized_val_inference`), and the dequantized weights are loaded into the
PyTorch model, which then scores the val split. This measures what weight compression does;
fp16 arithmetic on the device adds a little more.
"""

from __future__ import annotations

import copy
import json
import math
import platform
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import coremltools as ct
import numpy as np
import torch
from coremltools.converters.mil.frontend.milproto.load import load as load_mil
from coremltools.optimize.coreml import (
    OpLinearQuantizerConfig,
    OpPalettizerConfig,
    OptimizationConfig,
    linear_quantize_weights,
    palettize_weights,
)
from coremltools.proto import Model_pb2

from tinydetect.core.errors import UserError
from tinydetect.export.traceable import INPUT_NAMES, ExportableDetector

# deployment target per kind of package (the kinds themselves: tinydetect.core.config.COREML_KINDS)
TARGETS = {"fp16": ct.target.iOS16, "int8": ct.target.iOS16, "int4": ct.target.iOS18,
           "palettized4": ct.target.iOS18, "w8a8": ct.target.iOS17}
MACOS_ONLY = {"w8a8": "activation calibration runs MLModel.predict, which coremltools supports only on macOS"}
_EVERY_WEIGHT = 1  # coremltools skips weights under 2,048 elements by default (the classifier)
_SUFFIX = re.compile(r"(_to_fp16)?(_quantized|_palettized)?$")
_LEXICAL_TABLES = "detector_lexical_"  # the lexical branch's n-gram tables, as the converter names them
_GROUP = 16  # output channels sharing one palette (palettized4)


def _const_shapes(model: ct.models.MLModel) -> dict[str, tuple]:
    """Name and shape of each constant op (weights and tables) of a freshly converted model."""
    return {op.name: tuple(op.outputs[0].shape) for op in model._mil_program.functions["main"].operations
            if op.op_type == "const"}


class CoreMLDetector(torch.nn.Module):
    """int32 inputs, as Core ML apps pass them, into the trace-friendly detector."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.detector = ExportableDetector(model)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.detector(input_ids.long(), attention_mask.long())


def convert(model: torch.nn.Module, max_length: int, target) -> ct.models.MLModel:
    example = tuple(torch.ones(1, max_length, dtype=torch.int32) for _ in INPUT_NAMES)
    traced = torch.jit.trace(CoreMLDetector(model).eval(), example)
    return ct.convert(
        traced,
        inputs=[ct.TensorType(name=name, shape=(1, max_length), dtype=np.int32) for name in INPUT_NAMES],
        outputs=[ct.TensorType(name="logits")],
        convert_to="mlprogram",
        minimum_deployment_target=target,
        compute_precision=ct.precision.FLOAT16,
    )


def linear_layers(model: torch.nn.Module) -> list[torch.nn.Linear]:
    return [module for module in model.modules() if isinstance(module, torch.nn.Linear)]


def int4_block_size(model: torch.nn.Module, largest: int = 32, smallest: int = 8) -> int:
    """The largest block size that divides the input dimension of every linear weight.

    coremltools silently leaves a weight uncompressed when the block size does not divide
    its input dimension (TinyBERT-4's 312 and 1200 with blocks of 32: 2 of 26 quantized).
    """
    widths = sorted({layer.in_features for layer in linear_layers(model)})
    common = math.gcd(*widths)
    fitting = [size for size in range(largest, smallest - 1, -1) if common % size == 0]
    if not fitting:
        raise UserError(
            f"coreml int4: no block size from {smallest} to {largest} divides every linear input width {widths} "
            f"(their gcd is {common}); prune to widths with a common factor (prune.neuron_multiple)"
        )
    return fitting[0]


def compress(fp16_model: ct.models.MLModel, variant: str, block_size: int) -> ct.models.MLModel:
    if variant == "int8":
        config = OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", granularity="per_channel",
                                         weight_threshold=_EVERY_WEIGHT)
        return linear_quantize_weights(fp16_model, OptimizationConfig(global_config=config))
    if variant == "int4":
        config = OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int4", granularity="per_block",
                                         block_size=block_size, weight_threshold=_EVERY_WEIGHT)
        return linear_quantize_weights(fp16_model, OptimizationConfig(global_config=config))
    if variant == "palettized4":
        # One 16-entry table per group of 16 output channels (iOS 18): one per whole tensor flipped 4.0% of the
        # demo's val labels on the pruned model (max logit difference 0.64; grouped: 0.8%, 0.36). The lexical
        # branch's n-gram tables stay fp16 (16 values for a table of logits erase what it learned).
        # A weight with fewer output channels than a group (the 2-label classifier) gets one table for itself.
        config = OpPalettizerConfig(mode="kmeans", nbits=4, granularity="per_grouped_channel", group_size=_GROUP,
                                    weight_threshold=_EVERY_WEIGHT)
        whole = OpPalettizerConfig(mode="kmeans", nbits=4, granularity="per_tensor", weight_threshold=_EVERY_WEIGHT)
        per_name = {name: None if name.startswith(_LEXICAL_TABLES) else whole
                    for name, shape in _const_shapes(fp16_model).items()
                    if name.startswith(_LEXICAL_TABLES) or (len(shape) == 2 and shape[0] % _GROUP)}
        return palettize_weights(fp16_model, OptimizationConfig(global_config=config, op_name_configs=per_name))
    raise ValueError(f"unknown Core ML variant {variant!r}")


def w8a8(fp16_model: ct.models.MLModel, calibration: Sequence[dict[str, np.ndarray]]) -> ct.models.MLModel:
    """INT8 activations calibrated on real inputs, then INT8 weights (macOS only: it runs the model)."""
    from coremltools.optimize.coreml.experimental import OpActivationLinearQuantizerConfig, linear_quantize_activations

    activations = OptimizationConfig(global_config=OpActivationLinearQuantizerConfig(mode="linear_symmetric"))
    calibrated = linear_quantize_activations(fp16_model, activations, sample_data=list(calibration))
    return compress(calibrated, "int8", block_size=0)


def can_build(variant: str) -> str | None:
    """None when this machine can build the variant, else why not."""
    return MACOS_ONLY.get(variant) if platform.system() != "Darwin" else None


def read_program(package: str | Path):
    """The MIL program and spec of a saved package, without loading it into Core ML."""
    model = ct.models.MLModel(str(package), skip_model_load=True)
    spec = model.get_spec()
    return load_mil(spec, specification_version=spec.specificationVersion, file_weights_dir=model.weights_dir), spec


def op_counts(program) -> Counter:
    return Counter(op.op_type for function in program.functions.values() for op in function.operations)


def dequantized_weights(program) -> dict[str, np.ndarray]:
    """Every constant weight of the program as dense float32, keyed by its source tensor's name."""
    weights = {}
    for op in program.functions["main"].operations:
        if op.op_type == "const":
            value = op.outputs[0].val
        elif op.op_type.startswith("constexpr_"):
            value = op.materialized_val_inference()
        else:
            continue
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            weights[_SUFFIX.sub("", op.name)] = value.astype(np.float32)
    return weights


def with_package_weights(model: torch.nn.Module, package: str | Path) -> tuple[torch.nn.Module, int]:
    """A copy of `model` carrying the package's (dequantized) weights; returns it and how many tensors it took.

    Package weights are named after the traced module's parameters (`detector.bert.encoder...`
    becomes `detector_bert_encoder..._to_fp16_quantized`). Tables the converter folded into
    constants (position and token-type embeddings, indexed by constants) keep PyTorch's values.
    """
    program, _ = read_program(package)
    weights = dequantized_weights(program)
    copied = copy.deepcopy(model).eval()
    state = copied.state_dict()
    replaced = 0
    for name, tensor in state.items():
        value = weights.get(f"detector_{name}".replace(".", "_"))
        if value is not None and value.size == tensor.numel():
            state[name] = torch.from_numpy(value.reshape(tuple(tensor.shape)))
            replaced += 1
    copied.load_state_dict(state)
    return copied, replaced


def compressed_linear_weights(program) -> tuple[int, int]:
    """(linear ops whose weight is decompressed at load time by a `constexpr_*` op, all linear ops)."""
    linears = [op for op in program.functions["main"].operations if op.op_type == "linear"]
    compressed = sum(op.inputs["weight"].op is not None and op.inputs["weight"].op.op_type.startswith("constexpr_")
                     for op in linears)
    return compressed, len(linears)


def check_compressed(program, variant: str) -> int:
    """How many linear weights the variant compressed; every one must be, or the package is rejected."""
    compressed, total = compressed_linear_weights(program)
    if variant != "fp16" and compressed < total:
        raise UserError(f"coreml {variant}: only {compressed} of {total} linear weights were compressed")
    return compressed


_MANIFEST = "Manifest.json"
_PACKAGE_NAMESPACE = uuid.UUID("6f1c2a52-5d3e-4a8e-9a57-1d6c5b0e7f10")  # any fixed UUID: identifiers from paths


def save_reproducibly(model: ct.models.MLModel, package: str | Path) -> None:
    """Save a package so that the same model gives the same bytes on every run and machine.

    coremltools names the package's items with random UUIDs (`Manifest.json`) and serializes
    the spec's protobuf maps in an order that changes between processes. Here each item's
    identifier is a UUID derived from its path, and the spec is re-serialized deterministically
    (maps sorted by key); Core ML reads both as before.
    """
    package = Path(package)
    shutil.rmtree(package, ignore_errors=True)
    model.save(str(package))
    manifest = json.loads((package / _MANIFEST).read_text(encoding="utf-8"))
    renamed = {old: str(uuid.uuid5(_PACKAGE_NAMESPACE, entry["path"])) for old, entry in manifest["itemInfoEntries"].items()}
    manifest["itemInfoEntries"] = {renamed[old]: entry for old, entry in sorted(manifest["itemInfoEntries"].items(),
                                                                               key=lambda item: item[1]["path"])}
    manifest["rootModelIdentifier"] = renamed[manifest["rootModelIdentifier"]]
    (package / _MANIFEST).write_text(json.dumps(manifest, indent=4, sort_keys=True) + "\n", encoding="utf-8")
    for entry in manifest["itemInfoEntries"].values():
        item = package / "Data" / entry["path"]
        if item.suffix == ".mlmodel":
            spec = Model_pb2.Model.FromString(item.read_bytes())
            item.write_bytes(spec.SerializeToString(deterministic=True))
