"""The detector: a Hugging Face BERT encoder, its tokenizer and its decision threshold, in one folder.

A saved detector folder holds `config.json` + `model.safetensors` (`save_pretrained`),
`tokenizer.model` + `tokenizer_config.json`, and `detector.json` (the threshold chosen
on val), so everything that scores text loads the same three things.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertForSequenceClassification

from tinydetect.config import ModelConfig
from tinydetect.records import LABELS
from tinydetect.tokenizer import PAD_ID, DetectorTokenizer

DETECTOR_FILE = "detector.json"


def build_model(config: ModelConfig, vocab_size: int, seed: int) -> BertForSequenceClassification:
    """A randomly initialised BERT classifier with the shape in `config` (TinyBERT-4 by default)."""
    torch.manual_seed(seed)
    bert_config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=config.max_length,
        hidden_dropout_prob=config.hidden_dropout_prob,
        attention_probs_dropout_prob=config.attention_probs_dropout_prob,
        type_vocab_size=1,
        pad_token_id=PAD_ID,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: index for index, label in enumerate(LABELS)},
    )
    return BertForSequenceClassification(bert_config)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def directory_size_mb(directory: str | Path) -> float:
    return sum(path.stat().st_size for path in Path(directory).rglob("*") if path.is_file()) / 1e6


@torch.inference_mode()
def predict_logits(
    model: BertForSequenceClassification, tokenizer: DetectorTokenizer, texts: Sequence[str], batch_size: int = 64
) -> np.ndarray:
    """Logits of shape (len(texts), 2), column 1 is AI."""
    model.eval()
    batches = []
    for start in range(0, len(texts), batch_size):
        encoded = tokenizer(texts[start : start + batch_size])
        inputs = {name: torch.from_numpy(array) for name, array in encoded.items()}
        batches.append(model(**inputs).logits.float().numpy())
    return np.concatenate(batches) if batches else np.zeros((0, len(LABELS)), dtype=np.float32)


def probability_ai(logits: np.ndarray) -> np.ndarray:
    """Softmax probability of the AI class, shape (n,)."""
    return torch.softmax(torch.from_numpy(logits), dim=-1)[:, 1].numpy()


@dataclass
class Detector:
    model: BertForSequenceClassification
    tokenizer: DetectorTokenizer
    threshold: float

    @classmethod
    def load(cls, directory: str | Path) -> Detector:
        directory = Path(directory)
        if not (directory / DETECTOR_FILE).exists():
            raise FileNotFoundError(f"{directory}: not a detector folder (no {DETECTOR_FILE}); run `dvc repro train`")
        settings = json.loads((directory / DETECTOR_FILE).read_text())
        model = BertForSequenceClassification.from_pretrained(directory)
        return cls(model=model, tokenizer=DetectorTokenizer.load(directory), threshold=settings["threshold"])

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        self.model.save_pretrained(directory)
        self.tokenizer.save(directory)
        settings = {"threshold": self.threshold, "labels": list(LABELS), "positive_label": "AI"}
        (directory / DETECTOR_FILE).write_text(json.dumps(settings, indent=2) + "\n")

    def probability_ai(self, texts: Sequence[str]) -> np.ndarray:
        return probability_ai(predict_logits(self.model, self.tokenizer, texts))
