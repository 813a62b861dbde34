"""What the web page loads, in one folder (`web/public/model/` from the `web` stage):

- `backbone.onnx`: the detector without its last layer, ONNX (INT8 or fp32), inputs `input_ids` and `attention_mask`
  (batch x any length up to the tokenizer's), output `embedding` (batch x (hidden + 1)): BERT's pooled output and,
  as the last feature, the lexical branch's AI logit;
- `head.json`: the linear head over that embedding, `logits = embedding @ weight.T + bias`: the classifier's rows with
  a last column of (0, 1), so the untrained head gives exactly the detector's logits, and training it on the user's
  feedback (in the page) re-weighs BERT's features and the branch together;
- `tokenizer.json`: the tokenizer for `tokenizers`-compatible runtimes (transformers.js in the page), no padding;
- `detector.json`: the threshold(s) and the labels by logit column, as in every model folder.

`WebScorer` scores texts from that folder alone, with `tokenizer.json` through the Rust `tokenizers` runtime and the
head in NumPy: the Python twin of the page, which the page's own scores are checked against.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from tinydetect.core.files import write_json
from tinydetect.core.records import LABELS
from tinydetect.evaluation.metrics import probability_ai
from tinydetect.export.onnx import export, optimize_detector, quantize_int8
from tinydetect.export.traceable import ExportableDetector
from tinydetect.modeling.detector_folder import read_threshold, write_detector_json
from tinydetect.modeling.model import Detector
from tinydetect.runtime.onnx_scorer import onnx_session

BACKBONE_FILE, HEAD_FILE, TOKENIZER_FILE = "backbone.onnx", "head.json", "tokenizer.json"
EMBEDDING = "embedding"


class EmbeddingBackbone(ExportableDetector):
    """(input_ids, attention_mask) -> (batch, hidden + 1): BERT's pooled output, then the lexical branch's AI logit
    (0 for a model without a branch, so the head's shape does not depend on it)."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        pooled = self.pooled(input_ids, attention_mask)
        branch = (self.lexical(input_ids, attention_mask)[:, 1:] if self.lexical is not None
                  else torch.zeros_like(pooled[:, :1]))
        return torch.cat([pooled, branch], dim=-1)


def head_of(model: torch.nn.Module) -> dict[str, list]:
    """The classifier as a head over the embedding: its weights, and a last column passing the branch's logit to AI."""
    weight = model.classifier.weight.detach().double().numpy()
    branch_column = np.zeros((len(LABELS), 1))
    branch_column[LABELS.index("AI"), 0] = 1.0
    return {"weight": np.hstack([weight, branch_column]).tolist(),
            "bias": model.classifier.bias.detach().double().numpy().tolist()}


def export_backbone(model: torch.nn.Module, path: Path, max_length: int, kind: str, fuse_skip_layer_norm: bool) -> None:
    """The backbone as the `onnx` stage makes its graphs: dynamic batch and length, ORT's BERT fusions, then INT8."""
    with tempfile.TemporaryDirectory() as scratch:
        plain, fused = Path(scratch) / "plain.onnx", Path(scratch) / "fused.onnx"
        export(model, plain, max_length, dynamic_batch=True, dynamic_length=True, wrapper=EmbeddingBackbone,
               output_names=[EMBEDDING])
        optimize_detector(model, plain, fused if kind == "int8" else path, fuse_skip_layer_norm)
        if kind == "int8":
            quantize_int8(fused, path)


def write_assets(detector: Detector, folder: str | Path, kind: str, fuse_skip_layer_norm: bool) -> None:
    """Every file the page loads, into `folder` (see the module docstring)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    export_backbone(detector.model, folder / BACKBONE_FILE, detector.tokenizer.max_length, kind, fuse_skip_layer_norm)
    write_json(folder / HEAD_FILE, head_of(detector.model))
    tokenizer = detector.tokenizer.to_hf_tokenizer()
    tokenizer.no_padding()  # the page sends each text unpadded, as the backbone's dynamic length allows
    tokenizer.save(str(folder / TOKENIZER_FILE))
    write_detector_json(folder, detector.threshold)


class WebScorer:
    """Scores texts from a web assets folder alone, as the page does: tokenizer.json, backbone, head."""

    def __init__(self, folder: str | Path, threads: int | None = None):
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.session = onnx_session(folder / BACKBONE_FILE, threads)
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        head = json.loads((folder / HEAD_FILE).read_text())
        self.weight, self.bias = np.asarray(head["weight"]), np.asarray(head["bias"])
        self.threshold = read_threshold(folder)

    def embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """One text at a time, unpadded, as the page runs them: (texts, hidden + 1)."""
        rows = []
        for text in texts:
            ids = np.asarray([self.tokenizer.encode(text).ids], dtype=np.int64)
            rows.append(self.session.run([EMBEDDING], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0])
        return np.asarray(rows).reshape(len(rows), -1)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        return self.embeddings(texts) @ self.weight.T + self.bias

    def probability_ai(self, texts: Sequence[str]) -> np.ndarray:
        return probability_ai(self.logits(texts))
