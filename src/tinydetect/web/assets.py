"""What the web page loads, in one folder (`web/public/model/` from the `web` stage):

- `backbone.onnx`: the detector without its last layer, ONNX (INT8 or fp32), inputs `input_ids` and `attention_mask`
  (batch x any length up to the tokenizer's), output `embedding` (batch x (hidden + 1)): BERT's pooled output and,
  as the last feature, the lexical branch's AI logit;
- `head.json`: the linear head over that embedding, `logits = embedding @ weight.T + bias`: the classifier's rows with
  a last column of (0, 1), so the untrained head gives exactly the detector's logits, and training it on the user's
  feedback (in the page) re-weighs BERT's features and the branch together;
- `tokenizer.json`: the tokenizer for `tokenizers`-compatible runtimes (tokenizers.js in the page), no padding;
- `charmap.json`: the tokenizer's precompiled normalization map as a table, which tokenizers.js cannot read
  (tinydetect.web.scorer.precompiled_charmap);
- `detector.json`: the threshold(s) and the labels by logit column, as in every model folder;
- `settings.json`: how the page trains the head on feedback and what it sends in a federated round (params.yaml,
  `web.feedback` and `web.federated`).

`tinydetect.web.scorer.WebScorer` scores texts from that folder alone, as the page does.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from tinydetect.core.config import WebConfig
from tinydetect.core.files import write_json
from tinydetect.core.records import LABELS
from tinydetect.export.onnx import export, optimize_detector, quantize_int8
from tinydetect.export.traceable import ExportableDetector
from tinydetect.modeling.detector_folder import write_detector_json
from tinydetect.modeling.model import Detector
from tinydetect.web.scorer import (
    BACKBONE_FILE,
    CHARMAP_FILE,
    EMBEDDING,
    HEAD_FILE,
    SETTINGS_FILE,
    TOKENIZER_FILE,
    precompiled_charmap,
)


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


def write_assets(detector: Detector, folder: str | Path, kind: str, fuse_skip_layer_norm: bool,
                 config: WebConfig | None = None) -> None:
    """Every file the page loads, into `folder` (see the module docstring); `config` gives settings.json."""
    folder, config = Path(folder), config or WebConfig()
    folder.mkdir(parents=True, exist_ok=True)
    export_backbone(detector.model, folder / BACKBONE_FILE, detector.tokenizer.max_length, kind, fuse_skip_layer_norm)
    write_json(folder / HEAD_FILE, head_of(detector.model))
    tokenizer = detector.tokenizer.to_hf_tokenizer()
    tokenizer.no_padding()  # the page sends each text unpadded, as the backbone's dynamic length allows
    tokenizer.save(str(folder / TOKENIZER_FILE))
    charmap = precompiled_charmap(json.loads((folder / TOKENIZER_FILE).read_text(encoding="utf-8")))
    write_json(folder / CHARMAP_FILE, dict(sorted(charmap.items())))
    write_json(folder / SETTINGS_FILE, {"train": config.feedback.model_dump(), "federated": config.federated.model_dump()})
    write_detector_json(folder, detector.threshold)
