"""Train the detector from scratch with the Hugging Face Trainer.

AdamW with linear warm-up and decay, label smoothing, evaluation on val every epoch,
early stopping on val ROC-AUC, and the best epoch's weights kept at the end.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from transformers import EarlyStoppingCallback, Trainer, TrainingArguments
from transformers.integrations import DVCLiveCallback
from transformers.trainer_utils import EvalPrediction

from tinydetect.core.config import ModelConfig, TrainConfig
from tinydetect.core.records import Record
from tinydetect.evaluation.metrics import choose_threshold, probability_ai
from tinydetect.modeling.model import Detector, build_model, predict_logits
from tinydetect.modeling.tokenizer import DetectorTokenizer


class EncodedTexts(torch.utils.data.Dataset):
    """Tokenized records as the dicts of tensors the Trainer's default collator expects."""

    def __init__(self, records: Sequence[Record], tokenizer: DetectorTokenizer):
        encoded = tokenizer([record.text for record in records])
        self.input_ids = torch.from_numpy(encoded["input_ids"])
        self.attention_mask = torch.from_numpy(encoded["attention_mask"])
        self.labels = torch.tensor([record.label_int for record in records])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {
            "input_ids": self.input_ids[index],
            "attention_mask": self.attention_mask[index],
            "labels": self.labels[index],
        }


def _val_roc_auc(prediction: EvalPrediction) -> dict[str, float]:
    logits, labels = prediction.predictions, prediction.label_ids
    return {"roc_auc": float(roc_auc_score(labels, probability_ai(np.asarray(logits))))}


@dataclass
class TrainResult:
    detector: Detector
    best_val_roc_auc: float
    epochs_run: float


def training_arguments(config: TrainConfig, output_dir: str, seed: int) -> TrainingArguments:
    return TrainingArguments(
        output_dir=output_dir,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=64,
        num_train_epochs=config.epochs,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a fraction of all steps
        weight_decay=config.weight_decay,
        label_smoothing_factor=config.label_smoothing,
        lr_scheduler_type="linear",
        optim="adamw_torch",
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        save_total_limit=2,
        save_only_model=True,
        load_best_model_at_end=True,
        metric_for_best_model="roc_auc",
        greater_is_better=True,
        seed=seed,
        data_seed=seed,
        use_cpu=config.device == "cpu",
        report_to="none",
        disable_tqdm=False,
    )


def train(
    model_config: ModelConfig,
    train_config: TrainConfig,
    tokenizer: DetectorTokenizer,
    train_records: Sequence[Record],
    val_records: Sequence[Record],
    seed: int,
    callbacks: Sequence = (),
) -> TrainResult:
    """Train from scratch, keep the best epoch by val ROC-AUC, and pick the F1-optimal threshold on val."""
    model = build_model(model_config, vocab_size=tokenizer.vocab_size, seed=seed)
    return fit(model, train_config, tokenizer, train_records, val_records, seed, callbacks)


def fit(
    model: torch.nn.Module,
    train_config: TrainConfig,
    tokenizer: DetectorTokenizer,
    train_records: Sequence[Record],
    val_records: Sequence[Record],
    seed: int,
    callbacks: Sequence = (),
) -> TrainResult:
    """Train `model` as it is (fresh, or pruned and fine-tuned) with the train recipe."""
    with tempfile.TemporaryDirectory(prefix="tinydetect-checkpoints-") as checkpoint_dir:
        trainer = Trainer(
            model=model,
            args=training_arguments(train_config, checkpoint_dir, seed),
            train_dataset=EncodedTexts(train_records, tokenizer),
            eval_dataset=EncodedTexts(val_records, tokenizer),
            compute_metrics=_val_roc_auc,
            callbacks=[EarlyStoppingCallback(train_config.early_stopping_patience), *callbacks],
        )
        trainer.train()
        best_metric = trainer.state.best_metric
        epochs_run = trainer.state.epoch
    val_logits = predict_logits(trainer.model, tokenizer, [record.text for record in val_records])
    val_labels = np.array([record.label_int for record in val_records])
    threshold = choose_threshold(val_labels, probability_ai(val_logits))
    detector = Detector(model=trainer.model, tokenizer=tokenizer, threshold=threshold)
    return TrainResult(detector=detector, best_val_roc_auc=float(best_metric), epochs_run=float(epochs_run))


_VOLATILE_ARGS = {"output_dir", "logging_dir", "run_name"}  # temporary paths: differ on every run


def _is_timing(key: str) -> bool:
    return key.endswith(("runtime", "per_second")) or key == "total_flos"


class ReproducibleDVCLiveCallback(DVCLiveCallback):
    """DVCLive logging without what changes between identical runs (timings, temporary paths).

    Two runs with the same params and data then write identical `dvclive/train` files, so
    `dvc metrics diff` and `dvc plots diff` show only what a change really moved.
    """

    def setup(self, args, state, model):
        self._initialized = True
        if state.is_world_process_zero:
            stable = {key: value for key, value in args.to_dict().items() if key not in _VOLATILE_ARGS}
            self.live.log_params(stable)

    def on_log(self, args, state, control, model=None, logs=None, **kwargs):
        stable = {key: value for key, value in (logs or {}).items() if not _is_timing(key)}
        super().on_log(args, state, control, model=model, logs=stable, **kwargs)
