"""One scoring interface over every format: `logits`, `probability_ai`, `tokenizer`, `threshold`.

`load_scorer` opens whatever the pipeline made (a PyTorch folder, a PyTorch INT8 folder,
an `.onnx` file, a Core ML package), so `eval`, the benchmarks and `tinydetect predict`
treat every variant alike. Bad files fail with one line naming the file, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from tinydetect.core.errors import UserError
from tinydetect.decision.threshold import Threshold
from tinydetect.modeling.tokenizer import DetectorTokenizer
from tinydetect.runtime.onnx_scorer import OnnxScorer
from tinydetect.runtime.variants import coreml_source_folder, format_of


class Scorer(Protocol):
    tokenizer: DetectorTokenizer
    threshold: Threshold

    def logits(self, texts: Sequence[str]) -> np.ndarray: ...

    def probability_ai(self, texts: Sequence[str]) -> np.ndarray: ...


def _torch(path: Path, threads: int | None, source: Path | None) -> Scorer:
    from tinydetect.modeling.model import Detector

    return Detector.load(path)


def _torch_int8(path: Path, threads: int | None, source: Path | None) -> Scorer:
    from tinydetect.compression.quantization import load_int8

    return load_int8(path)


def _onnx(path: Path, threads: int | None, source: Path | None) -> Scorer:
    return OnnxScorer(path, threads)


def _coreml(path: Path, threads: int | None, source: Path | None) -> Scorer:
    """Core ML cannot run off macOS: the package's weights, read back and dequantized, go into its source model."""
    from tinydetect.export.coreml import with_package_weights
    from tinydetect.modeling.detector_folder import read_threshold
    from tinydetect.modeling.model import Detector

    source = source or coreml_source_folder(path)
    if not (source / "config.json").exists():
        raise UserError(f"{path}: a Core ML package is scored on this machine through the PyTorch model it was "
                        f"converted from, and {source} is not one; pass --source <that model's folder>")
    model, _ = with_package_weights(Detector.load(source).model, path)
    return Detector(model, DetectorTokenizer.load(path.parent), read_threshold(path.parent))


LOADERS: dict[str, Callable[[Path, int | None, Path | None], Scorer]] = {
    "torch": _torch, "torch_int8": _torch_int8, "onnx": _onnx, "coreml": _coreml,
}


def load_scorer(path: str | Path, threads: int | None = None, source: str | Path | None = None) -> Scorer:
    """Any variant by path; `source` overrides where a Core ML package's PyTorch model is."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such model; run `make repro` or pass --model")
    return LOADERS[format_of(path)](path, threads, Path(source) if source else None)
