"""Every model the pipeline makes, where it lives, what it was made from, and how to load it.

A variant is scored through one interface (`logits`, `probability_ai`, `tokenizer`,
`threshold`) whether it is a PyTorch folder, a PyTorch INT8 folder or an `.onnx` file, so
`eval`, the benchmarks and `tinydetect predict` treat them all alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from tinydetect.core.errors import UserError
from tinydetect.evaluation.metrics import parity
from tinydetect.modeling.tokenizer import DetectorTokenizer


class Scorer(Protocol):
    tokenizer: DetectorTokenizer
    threshold: float

    def logits(self, texts: Sequence[str]) -> np.ndarray: ...

    def probability_ai(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Variant:
    name: str
    path: str
    source: str | None  # the fp32 PyTorch variant it was compressed or exported from


COREML_VARIANTS = ("fp16", "int8", "int4", "palettized4", "w8a8")
# fp32 source -> the prefix of its exported variants' names ("onnx_int8", "pruned_onnx_int8")
PREFIXES = {"detector": "", "pruned": "pruned_"}


def _family(source: str) -> list[Variant]:
    """A fp32 PyTorch model and everything made from it."""
    prefix = PREFIXES[source]
    return [
        Variant(source, f"models/{source}", None),
        Variant(f"{source}_int8", f"models/quantized/{source}_int8", source),
        *(
            Variant(f"{prefix}onnx{suffix}", f"models/onnx/{source}/model{suffix}.onnx", source)
            for suffix in ("", "_1x128", "_int8", "_int4")
        ),
        *(
            Variant(f"{prefix}coreml_{kind}", f"models/coreml/{source}/Detector_{kind}.mlpackage", source)
            for kind in COREML_VARIANTS
        ),
    ]


VARIANTS: list[Variant] = [variant for source in PREFIXES for variant in _family(source)]


def load_scorer(path: str | Path, threads: int | None = None, source: str | Path | None = None) -> Scorer:
    """A detector folder (fp32 or INT8) or an `.onnx` file with its folder's tokenizer and threshold.

    A Core ML package cannot run off macOS: its weights, read back and dequantized, are
    loaded into the PyTorch model it was converted from (`source`), which then scores.
    """
    from tinydetect.modeling.model import Detector, read_threshold
    from tinydetect.compression.quantization import is_int8_folder, load_int8

    path = Path(path)
    if path.suffix == ".mlpackage":
        from tinydetect.export.coreml import with_package_weights

        if source is None:
            raise UserError(f"{path}: a Core ML package is scored through its source PyTorch model; pass source=")
        model, _ = with_package_weights(Detector.load(source).model, path)
        return Detector(model, DetectorTokenizer.load(path.parent), read_threshold(path.parent))
    if path.suffix == ".onnx":
        from tinydetect.export.onnx import OnnxDetector

        return OnnxDetector(path, threads)
    if not path.is_dir():
        raise UserError(f"{path}: neither a detector folder nor an .onnx file; run `make repro` or pass --model")
    return load_int8(path) if is_int8_folder(path) else Detector.load(path)


def model_size_mb(path: str | Path) -> float:
    """Bytes of the weights a variant ships (the .onnx file, the .mlpackage, or the folder's model file), in MB."""
    path = Path(path)
    if path.suffix == ".mlpackage":
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
    if path.is_file():
        return path.stat().st_size / 1e6
    weights = [p for p in path.iterdir() if p.suffix in {".safetensors", ".pt", ".bin"}]
    return sum(p.stat().st_size for p in weights) / 1e6


def check_parity(name: str, source_name: str, source_logits: np.ndarray, variant_logits: np.ndarray,
                 threshold: float, max_disagreement: float) -> dict[str, float]:
    """Parity metrics for one variant; a variant that flips too many labels stops the stage."""
    result = parity(source_logits, variant_logits, threshold)
    disagreement = 1.0 - result["label_agreement"]
    if disagreement > max_disagreement:
        raise UserError(
            f"{name} disagrees with {source_name} on {disagreement:.1%} of val labels "
            f"(limit {max_disagreement:.1%}, quantize.max_label_disagreement in params.yaml); "
            f"max logit difference {result['max_abs_logit_diff']}"
        )
    return result
