"""Score texts with an `.onnx` file through ONNX Runtime, with the tokenizer and threshold in its folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

from tinydetect.core.errors import UserError, first_line
from tinydetect.decision.probability import probability_ai
from tinydetect.modeling.detector_folder import read_threshold, unreadable_model_is_a_user_error
from tinydetect.modeling.tokenizer import DetectorTokenizer

LOGITS = "logits"
ORT_LOAD_ERRORS = (ort_errors.Fail, ort_errors.InvalidArgument, ort_errors.InvalidGraph, ort_errors.InvalidProtobuf,
                   ort_errors.NoSuchFile, ort_errors.NotImplemented, ort_errors.RuntimeException)


# The export decides whether residual Add + LayerNormalization are fused (`quantize.fuse_skip_layer_norm`); ONNX
# Runtime's load-time fusion would fuse them anyway and undo an unfused export, which is the faster one on this CPU:
# without that pass a 128-token text through the INT8 detector took 29% less time (the `+dynamic_length` and
# `shipped` rows of the levers in benchmarks/results/latency.json; docs/variants.md).
# A graph exported fused keeps its fused ops: the export made them, not this load-time pass.
DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]


def onnx_session(path: str | Path, threads: int | None = None):
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                        disabled_optimizers=DISABLED_OPTIMIZERS)


class OnnxScorer:
    """Scores texts with an `.onnx` file and the tokenizer and threshold in its folder."""

    def __init__(self, path: str | Path, threads: int | None = None):
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: no such ONNX model; run `dvc repro onnx`")
        self.path = path
        try:
            self.runner = onnx_session(path, threads)
        except ORT_LOAD_ERRORS as error:
            raise UserError(f"{path}: not a model ONNX Runtime can load ({first_line(error)}); "
                            "rerun `dvc repro` to rebuild it") from None
        with unreadable_model_is_a_user_error(path.parent):
            self.tokenizer = DetectorTokenizer.load(path.parent)
        self.threshold = read_threshold(path.parent)
        batch, length = self.runner.get_inputs()[0].shape
        self.batch_size = batch if isinstance(batch, int) else 64  # 1 for the fixed-shape graph
        self.pad_to_longest = not isinstance(length, int)  # a dynamic sequence axis (`quantize.dynamic_length`)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        batches = [
            self.runner.run([LOGITS], self.tokenizer(texts[start : start + self.batch_size], self.pad_to_longest))[0]
            for start in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(batches) if batches else np.zeros((0, 2), dtype=np.float32)

    def probability_ai(self, texts: Sequence[str]) -> np.ndarray:
        return probability_ai(self.logits(texts))
