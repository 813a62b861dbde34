"""Score texts with an `.onnx` file through ONNX Runtime, with the tokenizer and threshold in its folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime

from tinydetect.core.errors import UserError
from tinydetect.evaluation.metrics import probability_ai
from tinydetect.modeling.model import read_threshold
from tinydetect.modeling.tokenizer import DetectorTokenizer

LOGITS = "logits"


def onnx_session(path: str | Path, threads: int | None = None):
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxScorer:
    """Scores texts with an `.onnx` file and the tokenizer and threshold in its folder."""

    def __init__(self, path: str | Path, threads: int | None = None):
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: no such ONNX model; run `dvc repro onnx`")
        self.path = path
        self.runner = onnx_session(path, threads)
        self.tokenizer = DetectorTokenizer.load(path.parent)
        self.threshold = read_threshold(path.parent)
        batch = self.runner.get_inputs()[0].shape[0]
        self.batch_size = batch if isinstance(batch, int) else 64  # 1 for the fixed-shape graph

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        batches = [
            self.runner.run([LOGITS], self.tokenizer(texts[start : start + self.batch_size]))[0]
            for start in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(batches) if batches else np.zeros((0, 2), dtype=np.float32)

    def probability_ai(self, texts: Sequence[str]) -> np.ndarray:
        return probability_ai(self.logits(texts))
