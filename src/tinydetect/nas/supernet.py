"""The AutoTinyBERT SuperNet: one set of BERT weights that every sub-network of the search space shares.

`transformers` cannot express elastic widths (a `BertModel`'s shapes are fixed when it is built), so the SuperNet
holds the weights of the largest `DetectorModel` and runs a sub-network by calling a `DetectorModel` of the
sub-network's shape, built on the meta device (no memory), with `torch.func.functional_call` on the leading slices
of those weights: views, so gradients reach the shared weights. No BERT layer is written here; the key names are
`BertForSequenceClassification`'s, and `extract` gives a plain `DetectorModel` of the sub-network, whose logits are
the SuperNet's with that sub-network active (a test checks it).

Training follows the paper: masked-language modelling on the pretrain corpus, then the detection task, each step
with the sandwich rule (the largest, the smallest and `random_subnets` random sub-networks, their losses averaged)
through the Hugging Face `Trainer`. Only the MLM head is written here: BERT's (`BertPredictionHeadTransform` and a
decoder tied to the word embeddings), sliced the same way.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from sklearn.metrics import roc_auc_score
from transformers import BertConfig, DataCollatorForLanguageModeling, Trainer, TrainingArguments
from transformers.models.bert.modeling_bert import BertPredictionHeadTransform

from tinydetect.core.config import ModelConfig, SupernetConfig
from tinydetect.core.errors import UserError
from tinydetect.core.launch import shared_scratch
from tinydetect.core.records import LABELS, Record
from tinydetect.decision.probability import probability_ai
from tinydetect.modeling.model import DetectorModel
from tinydetect.modeling.pretraining import UnlabelledTexts, hf_tokenizer
from tinydetect.modeling.tokenizer import PAD_ID, DetectorTokenizer
from tinydetect.modeling.training import EncodedTexts
from tinydetect.nas.space import Architecture, SearchSpace

WEIGHTS, DESCRIPTION = "supernet.safetensors", "supernet.json"


def sub_config(largest: BertConfig, arch: Architecture, head_size: int, lexical_buckets: int = 0) -> BertConfig:
    """The `DetectorModel` config of `arch` (per-layer heads and FFN widths as `DetectorModel` reads them)."""
    values = largest.to_dict()
    values.update(
        hidden_size=arch.hidden, num_hidden_layers=arch.layers, num_attention_heads=arch.hidden // head_size,
        intermediate_size=max(arch.ffn), layer_heads=list(arch.heads), layer_intermediate_sizes=list(arch.ffn),
        lexical_buckets=lexical_buckets,
    )
    return BertConfig(**values)


def largest_config(space: SearchSpace, vocab_size: int, model: ModelConfig) -> BertConfig:
    arch = space.largest()
    return BertConfig(
        vocab_size=vocab_size, hidden_size=arch.hidden, num_hidden_layers=arch.layers,
        num_attention_heads=arch.hidden // space.head_size, intermediate_size=space.ffn_max,
        max_position_embeddings=model.max_length, hidden_dropout_prob=model.hidden_dropout_prob,
        attention_probs_dropout_prob=model.attention_probs_dropout_prob, type_vocab_size=1, pad_token_id=PAD_ID,
        num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
        label2id={label: index for index, label in enumerate(LABELS)}, lexical_buckets=0,
    )


def _leading(tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    return tensor[tuple(slice(0, size) for size in shape)]


class SuperNet(torch.nn.Module):
    def __init__(self, space: SearchSpace, config: BertConfig):
        super().__init__()
        self.space, self.config = space, config
        self.detector = DetectorModel(config)  # the largest sub-network's weights
        self.mlm_transform = BertPredictionHeadTransform(config)
        self.mlm_bias = torch.nn.Parameter(torch.zeros(config.vocab_size))
        self._skeletons: dict[Architecture, DetectorModel] = {}

    def skeleton(self, arch: Architecture) -> DetectorModel:
        """A weightless `DetectorModel` of `arch`'s shape (meta device), built once per architecture."""
        if arch not in self._skeletons:
            self.space.check(arch, "sub-network")
            with torch.device("meta"):
                self._skeletons[arch] = DetectorModel(sub_config(self.config, arch, self.space.head_size))
        return self._skeletons[arch]

    def weights_of(self, arch: Architecture) -> dict[str, torch.Tensor]:
        """The leading slices of the shared weights (and buffers) that `arch` runs with, by its key names."""
        skeleton, shared = self.skeleton(arch), dict(self.detector.named_parameters())
        shared.update(self.detector.named_buffers())
        named = list(skeleton.named_parameters()) + list(skeleton.named_buffers())
        return {name: _leading(shared[name], tensor.shape) for name, tensor in named}

    def forward(self, input_ids, attention_mask, labels=None, arch: Architecture | None = None, task: str = "detect"):
        arch = arch or self.space.largest()
        skeleton = self.skeleton(arch).train(self.training)
        weights = self.weights_of(arch)
        if task == "detect":
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
            return torch.func.functional_call(skeleton, weights, args=(), kwargs=inputs)
        bert_weights = {name[len("bert."):]: tensor for name, tensor in weights.items() if name.startswith("bert.")}
        hidden = torch.func.functional_call(skeleton.bert, bert_weights, args=(),
                                            kwargs={"input_ids": input_ids, "attention_mask": attention_mask})
        return _MaskedLMOutput(self._mlm_logits(hidden.last_hidden_state, arch.hidden), labels)

    def _mlm_logits(self, hidden: torch.Tensor, width: int) -> torch.Tensor:
        dense, norm = self.mlm_transform.dense, self.mlm_transform.LayerNorm
        hidden = torch.nn.functional.linear(hidden, dense.weight[:width, :width], dense.bias[:width])
        hidden = self.mlm_transform.transform_act_fn(hidden)
        hidden = torch.nn.functional.layer_norm(hidden, (width,), norm.weight[:width], norm.bias[:width], norm.eps)
        embeddings = self.detector.bert.embeddings.word_embeddings.weight[:, :width]
        return hidden @ embeddings.T + self.mlm_bias


class _MaskedLMOutput:
    def __init__(self, logits: torch.Tensor, labels: torch.Tensor | None):
        self.logits = logits
        self.loss = None if labels is None else torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def extract(supernet: SuperNet, arch: Architecture) -> DetectorModel:
    """`arch` as a standalone `DetectorModel` (copies of its slices of the shared weights)."""
    model = DetectorModel(sub_config(supernet.config, arch, supernet.space.head_size))
    weights = supernet.weights_of(arch)
    model.load_state_dict({name: weights[name].detach().clone() for name in model.state_dict()})
    return model


def save_supernet(supernet: SuperNet, directory: str | Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file({name: tensor.contiguous() for name, tensor in supernet.state_dict().items()}, directory / WEIGHTS)
    description = {"space": supernet.space.__dict__, "config": supernet.config.to_dict()}
    (directory / DESCRIPTION).write_text(json.dumps(description, indent=2, sort_keys=True, default=list) + "\n")


def load_supernet(directory: str | Path) -> SuperNet:
    directory = Path(directory)
    if not (directory / WEIGHTS).is_file():
        raise UserError(f"{directory}: no SuperNet here; run `dvc repro supernet`")
    description = json.loads((directory / DESCRIPTION).read_text())
    space = SearchSpace(**{key: tuple(value) if isinstance(value, list) else value
                           for key, value in description["space"].items()})
    supernet = SuperNet(space, BertConfig(**description["config"]))
    supernet.load_state_dict(load_file(directory / WEIGHTS))
    return supernet


class SandwichTrainer(Trainer):
    """The `Trainer` with the sandwich rule: each step's loss is the mean over the largest, the smallest and
    `random_subnets` random sub-networks (drawn from a seeded generator, so a rerun draws the same ones)."""

    def __init__(self, *args, space: SearchSpace, random_subnets: int, task: str, seed: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.space, self.random_subnets, self.task = space, random_subnets, task
        self.draw = random.Random(seed)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        archs = [self.space.largest(), self.space.smallest()]
        archs += [self.space.sample(self.draw) for _ in range(self.random_subnets)]
        loss = torch.stack([model(**inputs, arch=arch, task=self.task).loss for arch in archs]).mean()
        return (loss, None) if return_outputs else loss


def _arguments(config: SupernetConfig, epochs: int, output_dir: str, seed: int) -> TrainingArguments:
    return TrainingArguments(
        output_dir=output_dir, learning_rate=config.learning_rate, per_device_train_batch_size=config.batch_size,
        num_train_epochs=epochs, warmup_steps=config.warmup_ratio, weight_decay=config.weight_decay,
        lr_scheduler_type="linear", optim="adamw_torch", eval_strategy="no", save_strategy="no",
        logging_strategy="epoch", seed=seed, data_seed=seed, use_cpu=True, report_to="none", disable_tqdm=False,
        remove_unused_columns=False,
    )


def train_supernet(space: SearchSpace, model: ModelConfig, config: SupernetConfig, tokenizer: DetectorTokenizer,
                   corpus: Sequence[str], train: Sequence[Record], seed: int) -> tuple[SuperNet, dict]:
    """MLM on `corpus` (`config.mlm_epochs`), then detection on `train` (`config.epochs`), sandwich rule in both."""
    torch.manual_seed(seed)
    supernet = SuperNet(space, largest_config(space, tokenizer.vocab_size, model))
    losses = {}
    phases = [("mlm", config.mlm_epochs, UnlabelledTexts(corpus, tokenizer),
               DataCollatorForLanguageModeling(hf_tokenizer(tokenizer), mlm_probability=config.mlm_probability,
                                               seed=seed)),
              ("detect", config.epochs, EncodedTexts(train, tokenizer), None)]
    for task, epochs, dataset, collator in phases:
        if not epochs:
            continue
        with shared_scratch(prefix=f"tinydetect-supernet-{task}-") as scratch:
            trainer = SandwichTrainer(model=supernet, args=_arguments(config, epochs, scratch, seed),
                                      train_dataset=dataset, data_collator=collator, space=space,
                                      random_subnets=config.random_subnets, task=task, seed=seed)
            losses[f"{task}_train_loss"] = round(float(trainer.train().training_loss), 6)
    return supernet, losses


class ValScorer:
    """Val ROC-AUC of a sub-network with the SuperNet's inherited weights (no further training): the searches'
    score. Val is tokenized once."""

    def __init__(self, supernet: SuperNet, tokenizer: DetectorTokenizer, val: Sequence[Record], batch_size: int = 64):
        self.supernet, self.batch_size = supernet.eval(), batch_size
        encoded = tokenizer([record.text for record in val])
        self.input_ids = torch.from_numpy(encoded["input_ids"])
        self.attention_mask = torch.from_numpy(encoded["attention_mask"])
        self.labels = np.array([record.label_int for record in val])
        if len(set(self.labels)) < 2:
            raise UserError("data/split/val.jsonl: the search scores sub-networks by val ROC-AUC, which needs HUMAN "
                            "and AI texts in val")

    @torch.inference_mode()
    def logits(self, arch: Architecture) -> np.ndarray:
        batches = [self.supernet(self.input_ids[start : start + self.batch_size],
                                 self.attention_mask[start : start + self.batch_size], arch=arch).logits
                   for start in range(0, len(self.labels), self.batch_size)]
        return torch.cat(batches).float().numpy()

    def __call__(self, arch: Architecture) -> float:
        return float(roc_auc_score(self.labels, probability_ai(self.logits(arch))))
