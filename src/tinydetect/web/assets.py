"""What the web page loads, in one folder (`web/public/model/` from the `web` stage):

- `backbone.onnx`: the detector without its last layer, ONNX (INT8 or fp32), inputs `input_ids` and `attention_mask`
  (batch x any length up to the tokenizer's), output `embedding` (batch x (2 hidden + 1)): BERT's pooled output, the
  lexical branch's AI logit, and the mean over the text's tokens of BERT's input embeddings (a bag of its pieces);
- `head.json`: the head over that embedding, `logits = ((embedding - mean) / scale) @ weight.T + bias`: a fixed
  standardization (each feature's mean and spread over the train split, so one learning rate suits every feature)
  then the trainable linear layer, set so that the untrained head gives exactly the detector's logits (the
  classifier's rows on the pooled output, (0, 1) on the branch's logit, 0 on the mean embedding); training it on the
  user's feedback (in the page) re-weighs all three;
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
from collections.abc import Sequence
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
    WebBackbone,
    precompiled_charmap,
)

MIN_SCALE = 1e-2  # a feature that barely moves over the train split (a collapsed encoder's) is not blown up into noise


class EmbeddingBackbone(ExportableDetector):
    """(input_ids, attention_mask) -> (batch, 2 hidden + 1): BERT's pooled output, the lexical branch's AI logit (0 for
    a model without a branch, so the head's shape does not depend on it), the mean of BERT's input embeddings.

    The mean input embedding is there for training on feedback: on the demo, whose classifier leans on the lexical
    branch, the pooled output hardly differs between texts of a new domain, while the pieces a text is made of do
    (a head on it alone reached 0.80 accuracy on L2R and 0.90 on KatFish from 20 texts per label, scikit-learn's
    logistic regression, against 0.59 and 0.77 on the last layer's mean)."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        embedded, hidden, mask = self.encoded(input_ids, attention_mask)
        pooled = self.bert.pooler(hidden)
        branch = (self.lexical(input_ids, attention_mask)[:, 1:] if self.lexical is not None
                  else torch.zeros_like(pooled[:, :1]))
        weights = mask.unsqueeze(-1).to(embedded.dtype)
        mean_embedded = (embedded * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return torch.cat([pooled, branch, mean_embedded], dim=-1)


def head_of(model: torch.nn.Module, mean: np.ndarray, scale: np.ndarray) -> dict[str, list]:
    """The classifier as a head over the standardized embedding: equal to the detector before any training."""
    classifier = model.classifier.weight.detach().double().numpy()
    branch_column = np.zeros((len(LABELS), 1))
    branch_column[LABELS.index("AI"), 0] = 1.0
    raw_weight = np.hstack([classifier, branch_column, np.zeros_like(classifier)])  # on the embedding as it is
    # logits = raw_weight @ x + b = (raw_weight * scale) @ ((x - mean) / scale) + (b + raw_weight @ mean)
    return {"weight": (raw_weight * scale).tolist(),
            "bias": (model.classifier.bias.detach().double().numpy() + raw_weight @ mean).tolist(),
            "mean": mean.tolist(), "scale": scale.tolist()}


def export_backbone(model: torch.nn.Module, path: Path, max_length: int, kind: str, fuse_skip_layer_norm: bool) -> None:
    """The backbone as the `onnx` stage makes its graphs: dynamic batch and length, ORT's BERT fusions, then INT8."""
    with tempfile.TemporaryDirectory() as scratch:
        plain, fused = Path(scratch) / "plain.onnx", Path(scratch) / "fused.onnx"
        export(model, plain, max_length, dynamic_batch=True, dynamic_length=True, wrapper=EmbeddingBackbone,
               output_names=[EMBEDDING])
        optimize_detector(model, plain, fused if kind == "int8" else path, fuse_skip_layer_norm)
        if kind == "int8":
            quantize_int8(fused, path, seven_bit_weights=True)  # the page and Python must agree on any CPU


def write_assets(detector: Detector, folder: str | Path, kind: str, fuse_skip_layer_norm: bool,
                 train_texts: Sequence[str], config: WebConfig | None = None) -> None:
    """Every file the page loads, into `folder` (see the module docstring); the head's standardization is measured on
    `train_texts`; `config` gives settings.json."""
    folder, config = Path(folder), config or WebConfig()
    folder.mkdir(parents=True, exist_ok=True)
    export_backbone(detector.model, folder / BACKBONE_FILE, detector.tokenizer.max_length, kind, fuse_skip_layer_norm)
    tokenizer = detector.tokenizer.to_hf_tokenizer()
    tokenizer.no_padding()  # the page sends each text unpadded, as the backbone's dynamic length allows
    tokenizer.save(str(folder / TOKENIZER_FILE))
    charmap = precompiled_charmap(json.loads(tokenizer.to_str()))
    write_json(folder / CHARMAP_FILE, dict(sorted(charmap.items())))
    features = WebBackbone(folder).embeddings(train_texts)
    scale = np.maximum(features.std(axis=0), MIN_SCALE)
    write_json(folder / HEAD_FILE, head_of(detector.model, features.mean(axis=0), scale))
    write_json(folder / SETTINGS_FILE, {"train": config.feedback.model_dump(), "federated": config.federated.model_dump()})
    write_detector_json(folder, detector.threshold)
