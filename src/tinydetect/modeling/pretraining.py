"""Masked-language-model pre-training of the encoder on unlabelled text, before the detector learns labels.

The first step of the AutoTinyBERT recipe (Yin et al., ACL 2021), done with Hugging Face's own
parts: `BertForMaskedLM` of the detector's shape, `DataCollatorForLanguageModeling` (15% of the
pieces masked: 80% [MASK], 10% random, 10% kept) and the `Trainer`. The corpus is the train
split's texts (labels unused) plus whatever the user puts in `data/unlabelled/`; the val split's
texts measure the masked-token loss. `train` then starts from this encoder instead of random
weights (`load_pretrained_encoder`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    BertConfig,
    BertForMaskedLM,
    DataCollatorForLanguageModeling,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
)

from tinydetect.core.config import ModelConfig, PretrainConfig
from tinydetect.core.errors import UserError
from tinydetect.core.files import read_lines
from tinydetect.core.launch import distributed_arguments, per_process_batch, shared_scratch
from tinydetect.core.records import data_files, load_file
from tinydetect.modeling.tokenizer import PAD_ID, DetectorTokenizer

TEXT_SUFFIXES = (".txt",)


def unlabelled_texts(directory: str | Path) -> tuple[list[str], list[str]]:
    """Texts under `directory` and the files they came from.

    `*.txt`: one text per paragraph (blank lines separate them); `*.jsonl`: the `text` of each
    object (labels, if any, are ignored). Other files are named on stderr and skipped.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return [], []
    jsonl, others = data_files(directory)
    texts, used = [], []
    for path in sorted(jsonl + [p for p in others if p.suffix.lower() in TEXT_SUFFIXES]):
        if path.suffix.lower() == ".jsonl":
            found = [record.text for record in load_file(path)]
        else:
            found = [paragraph.strip() for paragraph in "\n".join(read_lines(path)).split("\n\n") if paragraph.strip()]
        texts += found
        used.append(f"{path} ({len(found)} texts)")
    return texts, used


def hf_tokenizer(tokenizer: DetectorTokenizer) -> PreTrainedTokenizerFast:
    """Our tokenizer as the `PreTrainedTokenizerFast` the MLM collator asks for (mask, pad, special tokens)."""
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer.to_hf_tokenizer(), unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]",
    )


class UnlabelledTexts(torch.utils.data.Dataset):
    def __init__(self, texts: Sequence[str], tokenizer: DetectorTokenizer):
        encoded = tokenizer(list(texts))
        self.input_ids = torch.from_numpy(encoded["input_ids"])
        self.attention_mask = torch.from_numpy(encoded["attention_mask"])

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.input_ids[index], "attention_mask": self.attention_mask[index]}


def masked_lm(config: ModelConfig, vocab_size: int, seed: int) -> BertForMaskedLM:
    """A randomly initialised `BertForMaskedLM` with the detector's encoder shape."""
    torch.manual_seed(seed)
    return BertForMaskedLM(BertConfig(
        vocab_size=vocab_size, hidden_size=config.hidden_size, num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads, intermediate_size=config.intermediate_size,
        max_position_embeddings=config.max_length, hidden_dropout_prob=config.hidden_dropout_prob,
        attention_probs_dropout_prob=config.attention_probs_dropout_prob, type_vocab_size=1, pad_token_id=PAD_ID,
    ))


@dataclass
class PretrainResult:
    model: BertForMaskedLM
    texts: int
    eval_loss: float | None  # masked-token cross-entropy on val's texts; None when no epoch ran
    eval_losses: list[float]  # the same after each epoch: where it stops falling, more epochs buy nothing

    @property
    def perplexity(self) -> float | None:
        return round(math.exp(self.eval_loss), 3) if self.eval_loss is not None else None

    @property
    def perplexity_by_epoch(self) -> list[float]:
        return [round(math.exp(loss), 3) for loss in self.eval_losses]


def pretrain(model_config: ModelConfig, config: PretrainConfig, tokenizer: DetectorTokenizer, texts: Sequence[str],
             held_out: Sequence[str], seed: int) -> PretrainResult:
    """`config.epochs` of MLM on `texts`; 0 epochs gives the random initialisation (pre-training off)."""
    model = masked_lm(model_config, tokenizer.vocab_size, seed)
    if config.epochs == 0:
        return PretrainResult(model, len(texts), None, [])
    if not texts:
        raise UserError("pretrain: no texts to pre-train on (the train split is empty)")
    collator = DataCollatorForLanguageModeling(hf_tokenizer(tokenizer), mlm_probability=config.mlm_probability, seed=seed)
    with shared_scratch(prefix="tinydetect-pretrain-") as scratch:
        trainer = Trainer(
            model=model, args=_arguments(config, scratch, seed), data_collator=collator,
            train_dataset=UnlabelledTexts(texts, tokenizer), eval_dataset=UnlabelledTexts(held_out, tokenizer),
        )
        trainer.train()
        eval_losses = [float(entry["eval_loss"]) for entry in trainer.state.log_history if "eval_loss" in entry]
    return PretrainResult(trainer.model, len(texts), eval_losses[-1], eval_losses)


def _arguments(config: PretrainConfig, output_dir: str, seed: int) -> TrainingArguments:
    return TrainingArguments(
        output_dir=output_dir, learning_rate=config.learning_rate, per_device_train_batch_size=per_process_batch(config.batch_size),
        per_device_eval_batch_size=64, num_train_epochs=config.epochs, warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay, lr_scheduler_type="linear", optim="adamw_torch", eval_strategy="epoch",
        save_strategy="no", logging_strategy="epoch", seed=seed, data_seed=seed, use_cpu=config.device == "cpu",
        report_to="none", disable_tqdm=False,
        **distributed_arguments(on_cpu=config.device == "cpu"),
    )


def load_pretrained_encoder(model: torch.nn.Module, directory: str | Path) -> None:
    """Copy a pre-trained `BertForMaskedLM`'s encoder into the detector `model`, in place.

    The MLM model has no pooler (BERT's pooler is trained for next-sentence prediction, which
    this recipe leaves out): the detector keeps its own freshly initialised pooler and heads.
    """
    pretrained = BertForMaskedLM.from_pretrained(directory)
    missing, unexpected = model.bert.load_state_dict(pretrained.bert.state_dict(), strict=False)
    if unexpected or any(not key.startswith("pooler.") for key in missing):
        raise UserError(f"{directory}: the pre-trained encoder does not fit the detector (missing {missing}, "
                        f"unexpected {unexpected}); rerun `dvc repro pretrain`")
