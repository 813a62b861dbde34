"""The detector: a Hugging Face BERT encoder, its tokenizer and its decision threshold, in one folder.

A saved detector folder holds `config.json` + `model.safetensors` (`save_pretrained`),
`tokenizer.model` + `tokenizer_config.json`, and `detector.json` (the threshold chosen
on val, and one per language where chosen: `decision/threshold.py`), so everything that scores text loads the same three things.

`DetectorModel` is `BertForSequenceClassification` that also knows per-layer widths:
after structured pruning (see `pruning.py`) each layer may keep fewer attention heads
and FFN neurons, recorded in the config as `layer_heads` and `layer_intermediate_sizes`
so that `DetectorModel.from_pretrained` rebuilds the narrower layers before loading.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput

from tinydetect.core.config import ModelConfig
from tinydetect.core.records import LABELS
from tinydetect.decision.probability import probability_ai
from tinydetect.decision.threshold import Threshold
from tinydetect.modeling.detector_folder import read_threshold, unreadable_model_is_a_user_error, write_detector_files
from tinydetect.modeling.lexical import LexicalBranch
from tinydetect.modeling.tokenizer import PAD_ID, DetectorTokenizer


def _select_linear(linear: torch.nn.Linear, index: torch.Tensor, dim: int) -> torch.nn.Linear:
    """A smaller copy of `linear` keeping rows (dim 0, outputs) or columns (dim 1, inputs) at `index`."""
    weight = linear.weight.detach().index_select(dim, index)
    smaller = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=linear.bias is not None)
    smaller = smaller.to(device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        smaller.weight.copy_(weight)
        if linear.bias is not None:
            smaller.bias.copy_(linear.bias.detach() if dim == 1 else linear.bias.detach().index_select(0, index))
    return smaller


def shrink_layer(layer: torch.nn.Module, kept_heads: Sequence[int], kept_neurons: Sequence[int]) -> None:
    """Rebuild one `BertLayer` in place with only these attention heads and FFN neurons.

    A head owns `head_size` consecutive outputs of query/key/value and the same inputs of
    the attention output projection; a neuron owns one output of the FFN's first linear
    layer and one input of its second.
    """
    attention = layer.attention.self
    head_size = attention.attention_head_size
    device = attention.query.weight.device
    head_rows = torch.tensor([h * head_size + i for h in kept_heads for i in range(head_size)], device=device)
    for name in ("query", "key", "value"):
        setattr(attention, name, _select_linear(getattr(attention, name), head_rows, dim=0))
    layer.attention.output.dense = _select_linear(layer.attention.output.dense, head_rows, dim=1)
    attention.num_attention_heads = len(kept_heads)
    attention.all_head_size = len(kept_heads) * head_size
    neurons = torch.tensor(list(kept_neurons), device=device)
    layer.intermediate.dense = _select_linear(layer.intermediate.dense, neurons, dim=0)
    layer.output.dense = _select_linear(layer.output.dense, neurons, dim=1)


class DetectorModel(BertForSequenceClassification):
    """BERT classifier whose layers may be narrower than `num_attention_heads`/`intermediate_size`,
    with an optional lexical branch (`config.lexical_buckets > 0`) whose logits add to BERT's.

    BERT reads the first `max_position_embeddings` tokens of the input; the lexical branch reads
    all of it (the tokenizer's length, `model.lexical_max_length`).
    """

    def __init__(self, config: BertConfig):
        super().__init__(config)
        heads = getattr(config, "layer_heads", None) or [config.num_attention_heads] * config.num_hidden_layers
        widths = getattr(config, "layer_intermediate_sizes", None) or [config.intermediate_size] * config.num_hidden_layers
        for layer, layer_heads, width in zip(self.bert.encoder.layer, heads, widths, strict=True):
            if layer_heads != config.num_attention_heads or width != config.intermediate_size:
                shrink_layer(layer, range(layer_heads), range(width))  # shapes only: weights load next
        buckets = getattr(config, "lexical_buckets", 0)
        self.lexical = LexicalBranch(config.vocab_size, buckets) if buckets else None

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs) -> SequenceClassifierOutput:
        length = self.config.max_position_embeddings
        # contiguous: the INT8 model's quantized embedding op rejects a strided slice
        bert_ids, bert_mask = input_ids[:, :length].contiguous(), attention_mask[:, :length].contiguous()
        output = super().forward(input_ids=bert_ids, attention_mask=bert_mask, **kwargs)
        logits = output.logits
        if self.lexical is not None:
            logits = logits + self.lexical(input_ids, attention_mask)
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def build_model(config: ModelConfig, vocab_size: int, seed: int) -> DetectorModel:
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
        lexical_buckets=config.lexical_buckets,
    )
    return DetectorModel(bert_config)


def build_searched_model(config: ModelConfig, directory: str | Path, seed: int) -> DetectorModel:
    """The sub-network the NAS `extract` stage wrote (its shape and its SuperNet weights), with the lexical branch
    and dropout of `config` (the branch is fitted afresh by `train`)."""
    with unreadable_model_is_a_user_error(directory):
        searched = DetectorModel.from_pretrained(directory)
    bert_config = searched.config
    bert_config.update({"lexical_buckets": config.lexical_buckets, "hidden_dropout_prob": config.hidden_dropout_prob,
                        "attention_probs_dropout_prob": config.attention_probs_dropout_prob})
    torch.manual_seed(seed)
    model = DetectorModel(bert_config)
    missing, unexpected = model.load_state_dict(searched.state_dict(), strict=False)
    if unexpected or any(not key.startswith("lexical.") for key in missing):
        raise ValueError(f"{directory}: the searched sub-network does not load (missing {missing}, unexpected {unexpected})")
    return model


def count_parameters(model: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module, tokenizer: DetectorTokenizer, texts: Sequence[str], batch_size: int = 64
) -> np.ndarray:
    """Logits of shape (len(texts), 2), column 1 is AI."""
    model.eval()
    batches = []
    for start in range(0, len(texts), batch_size):
        encoded = tokenizer(texts[start : start + batch_size])
        inputs = {name: torch.from_numpy(array) for name, array in encoded.items()}
        batches.append(model(**inputs).logits.float().numpy())
    return np.concatenate(batches) if batches else np.zeros((0, len(LABELS)), dtype=np.float32)


@torch.inference_mode()
def margin_parts(
    model: DetectorModel, tokenizer: DetectorTokenizer, texts: Sequence[str], batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Each text's AI-minus-human logit margin from the encoder alone and from the lexical branch alone.

    The model's margin is their sum (the fused weights are already folded into each part). Each part
    is computed once: the encoder's with the branch detached, not as the whole model minus the branch.
    """
    model.eval()
    encoder, branch = [], []
    for start in range(0, len(texts), batch_size):
        encoded = tokenizer(texts[start : start + batch_size])
        inputs = {name: torch.from_numpy(array) for name, array in encoded.items()}
        branch.append(model.lexical(**inputs).diff(dim=-1)[:, 0].float().numpy())
        with lexical_branch_detached(model):
            encoder.append(model(**inputs).logits.diff(dim=-1)[:, 0].float().numpy())
    empty = np.zeros(0, dtype=np.float32)
    return (np.concatenate(encoder), np.concatenate(branch)) if encoder else (empty, empty)


@contextmanager
def lexical_branch_detached(model: torch.nn.Module) -> Iterator[None]:
    """The model without its lexical branch for the block (BERT's logits alone), the branch back after.

    Training uses it: the branch is fitted by scikit-learn beforehand and must neither learn nor
    mask BERT's own val ROC-AUC, which early stopping selects the epoch by (see `lexical.py`).
    A model without a branch is left as it is.
    """
    branch = getattr(model, "lexical", None)
    if branch is None:
        yield
        return
    model.lexical = None
    try:
        yield
    finally:
        model.lexical = branch


@dataclass
class Detector:
    """A PyTorch model (fp32, pruned or INT8) with its tokenizer and threshold(s)."""

    model: torch.nn.Module
    tokenizer: DetectorTokenizer
    threshold: Threshold

    @classmethod
    def load(cls, directory: str | Path) -> Detector:
        threshold = read_threshold(directory)
        with unreadable_model_is_a_user_error(directory):
            model = DetectorModel.from_pretrained(directory)
            tokenizer = DetectorTokenizer.load(directory)
        return cls(model=model, tokenizer=tokenizer, threshold=threshold)

    def save(self, directory: str | Path) -> None:
        self.model.save_pretrained(directory)
        write_detector_files(directory, self.tokenizer, self.threshold)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        return predict_logits(self.model, self.tokenizer, texts)

    def probability_ai(self, texts: Sequence[str]) -> np.ndarray:
        return probability_ai(self.logits(texts))
