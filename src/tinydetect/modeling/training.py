"""Train the detector with the Hugging Face Trainer, from the pre-trained encoder.

The lexical branch, when there is one, is fitted first by scikit-learn and frozen; BERT learns
alone, and the two are weighed on val at the end (see `lexical.py`). AdamW with linear
warm-up and decay, label smoothing,
optional distillation from a teacher's soft labels, evaluation on val every epoch, early
stopping on val ROC-AUC, the best epoch's weights kept at the end, and the label threshold
chosen on val by the `eval.threshold_policy`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from sklearn.metrics import roc_auc_score
from transformers import EarlyStoppingCallback, TrainingArguments
from transformers.integrations import DVCLiveCallback
from transformers.trainer_utils import EvalPrediction

from tinydetect.core.config import EvalConfig, ModelConfig, TrainConfig
from tinydetect.core.errors import UserError
from tinydetect.core.launch import distributed_arguments, per_process_batch, shared_scratch
from tinydetect.core.records import Record
from tinydetect.decision.probability import probability_ai
from tinydetect.decision.threshold import OutOfFold, Threshold, threshold_from_val
from tinydetect.modeling.distillation import TEACHER_FIELD, DistillationTrainer, distillation_loss
from tinydetect.modeling.lexical import fuse
from tinydetect.modeling.model import (
    Detector,
    build_model,
    build_searched_model,
    lexical_branch_detached,
    margin_parts,
    predict_logits,
)
from tinydetect.modeling.pretraining import load_pretrained_encoder
from tinydetect.modeling.tokenizer import PAD_ID, DetectorTokenizer

# (val labels, val P(AI), domains=..., languages=..., texts=..., train_texts=...) -> threshold
ThresholdChoice = Callable[..., Threshold]
F1_THRESHOLD: ThresholdChoice = partial(threshold_from_val, "f1", target_fpr=0.0)  # target_fpr unused by "f1"


def policy_threshold(config: EvalConfig, out_of_fold: OutOfFold | None = None) -> ThresholdChoice:
    """The threshold choice `eval.threshold_policy`, `eval.target_fpr` and `eval.threshold_per_language` ask for;
    with `out_of_fold` (the calibrate stage's scores), its texts join val's behind the cuts."""
    return partial(threshold_from_val, config.threshold_policy, target_fpr=config.target_fpr,
                   per_language=config.threshold_per_language, target_fnr=config.target_fnr, min_words=config.min_words,
                   unfamiliar_share=config.unfamiliar_share, out_of_fold=out_of_fold)


@dataclass
class TrainingData:
    tokenizer: DetectorTokenizer
    train: Sequence[Record]
    val: Sequence[Record]
    teacher_p_ai: Mapping[str, float] | None = None  # a teacher's P(AI) by record id (distillation), or None


@dataclass(frozen=True)
class RandomWindows:
    """Each time a text is drawn, with probability `share`, the encoder's `width` tokens come from a random place
    in the text instead of its start.

    BERT reads only the first `width` tokens of a text the lexical branch reads 512 of: on a few thousand texts it
    sees the same 128 tokens every epoch and learns them by heart. A window elsewhere in the same text is another
    view with the same label, new each epoch. Val, test and inference still read the start.
    """

    share: float
    width: int
    seed: int


class EncodedTexts(torch.utils.data.Dataset):
    """Tokenized records as the dicts of tensors the Trainer's default collator expects.

    With `teacher_p_ai`, each item also carries the teacher's P(AI) (NaN for a text it has none for); with
    `windows`, some items start at a random piece of the text (`RandomWindows`).
    """

    def __init__(self, records: Sequence[Record], tokenizer: DetectorTokenizer,
                 teacher_p_ai: Mapping[str, float] | None = None, windows: RandomWindows | None = None):
        encoded = tokenizer([record.text for record in records])
        self.input_ids = torch.from_numpy(encoded["input_ids"])
        self.attention_mask = torch.from_numpy(encoded["attention_mask"])
        self.labels = torch.tensor([record.label_int for record in records])
        self.teacher = None if teacher_p_ai is None else torch.tensor(
            [teacher_p_ai.get(record.id, float("nan")) for record in records], dtype=torch.float32)
        self.windows = windows if windows is not None and windows.share > 0 else None
        self.random = np.random.default_rng(windows.seed if windows is not None else 0)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        input_ids, attention_mask = self.input_ids[index], self.attention_mask[index]
        if self.windows is not None and self.random.random() < self.windows.share:
            input_ids, attention_mask = self._from_random_piece(input_ids, attention_mask)
        item = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": self.labels[index]}
        if self.teacher is not None:
            item[TEACHER_FIELD] = self.teacher[index]
        return item

    def _from_random_piece(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """[CLS] and the text from a random piece on, padded back to the same length; a text whose pieces fit in
        the window as they are is returned unchanged."""
        length = int(attention_mask.sum())
        pieces = length - 2  # between [CLS] and [SEP]
        last_start = pieces - (self.windows.width - 1)  # the window holds [CLS] and width - 1 pieces
        if last_start <= 0:
            return input_ids, attention_mask
        start = int(self.random.integers(1, last_start + 1))
        shifted = torch.cat([input_ids[:1], input_ids[1 + start:], input_ids.new_full((start,), PAD_ID)])
        mask = torch.cat([attention_mask[start:], attention_mask.new_zeros(start)])
        return shifted, mask


def encoder_width(model: torch.nn.Module) -> int:
    """The tokens BERT reads (the lexical branch may read more)."""
    return int(model.config.max_position_embeddings)


def _val_roc_auc(prediction: EvalPrediction) -> dict[str, float]:
    logits, labels = prediction.predictions, prediction.label_ids
    return {"roc_auc": float(roc_auc_score(labels, probability_ai(np.asarray(logits))))}


@dataclass
class TrainResult:
    detector: Detector
    best_val_roc_auc: float  # BERT's alone (lexical branch detached) at its best epoch
    history: list[dict[str, float]]  # per epoch: BERT's train loss, val loss and val ROC-AUC (`epoch_history`)
    val_roc_auc: float  # the shipped model's: BERT and the branch, fused
    fusion: dict[str, float]  # the fusion weights (`lexical.fuse`); {} without a branch
    epochs_run: float
    val_false_positive_rate: float  # at the chosen threshold
    val_true_positive_rate: float


def training_arguments(config: TrainConfig, output_dir: str, seed: int) -> TrainingArguments:
    return TrainingArguments(
        output_dir=output_dir,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=per_process_batch(config.batch_size),
        per_device_eval_batch_size=64,
        num_train_epochs=config.epochs,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a fraction of all steps
        weight_decay=config.weight_decay,
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
        # the Trainer would drop dataset fields the model's forward does not name, the teacher's soft labels with them
        remove_unused_columns=False,
        **distributed_arguments(on_cpu=config.device == "cpu"),
    )


def train(
    model_config: ModelConfig,
    train_config: TrainConfig,
    data: TrainingData,
    seed: int,
    callbacks: Sequence = (),
    threshold: ThresholdChoice = F1_THRESHOLD,
    pretrained: str | Path | None = None,
    searched: str | Path | None = None,
) -> TrainResult:
    """Train the detector (the NAS sub-network in `searched`, else the fixed shape from the pre-trained encoder in
    `pretrained`, else from random weights), keep the best epoch by val ROC-AUC, and choose the threshold on val
    with `threshold`."""
    if searched is not None:
        model = build_searched_model(model_config, searched, seed)
    else:
        model = build_model(model_config, vocab_size=data.tokenizer.vocab_size, seed=seed)
        if pretrained is not None:
            load_pretrained_encoder(model, pretrained)
    if model.lexical is not None:
        model.lexical.fit(train_counts(model, data), _labels(data.train), train_config.lexical_c, seed)
    return fit(model, train_config, data, seed, callbacks, threshold)


def _labels(records: Sequence[Record]) -> np.ndarray:
    return np.array([record.label_int for record in records])


def train_counts(model: torch.nn.Module, data: TrainingData):
    """The lexical branch's n-gram counts of the train split."""
    encoded = data.tokenizer([record.text for record in data.train])
    return model.lexical.counts(encoded["input_ids"], encoded["attention_mask"])


def fuse_on_val(model: torch.nn.Module, data: TrainingData, seed: int) -> dict[str, float]:
    """Weigh the trained BERT and the branch on val (`lexical.fuse`); {} without a branch."""
    if getattr(model, "lexical", None) is None:
        return {}
    encoder_margin, branch_logit = margin_parts(model, data.tokenizer, [record.text for record in data.val])
    return fuse(model, encoder_margin, branch_logit, _labels(data.val), seed)


def fit(
    model: torch.nn.Module,
    train_config: TrainConfig,
    data: TrainingData,
    seed: int,
    callbacks: Sequence = (),
    threshold: ThresholdChoice = F1_THRESHOLD,
) -> TrainResult:
    """Train `model` as it is (fresh, pre-trained, or pruned) with the train recipe.

    `threshold(val_labels, val_p_ai, domains=..., languages=...)` picks the label threshold(s), e.g.
    `policy_threshold(eval_config)`.
    """
    with shared_scratch(prefix="tinydetect-checkpoints-") as checkpoint_dir:
        arguments = training_arguments(train_config, checkpoint_dir, seed)
        trainer = DistillationTrainer(
            model=model,
            args=arguments,
            train_dataset=EncodedTexts(data.train, data.tokenizer, data.teacher_p_ai, RandomWindows(
                train_config.window_share, encoder_width(model), seed)),
            eval_dataset=EncodedTexts(data.val, data.tokenizer),
            compute_metrics=_val_roc_auc,
            callbacks=[EarlyStoppingCallback(train_config.early_stopping_patience), *callbacks],
            alpha=train_config.distill_alpha if data.teacher_p_ai else 0.0,
            temperature=train_config.distill_temperature,
            label_smoothing=train_config.label_smoothing,
            class_weights=class_weights(_labels(data.train), train_config.class_weight),
        )
        with lexical_branch_detached(model):  # BERT alone: the fitted branch neither learns nor picks the epoch
            trainer.train()
        best_metric = trainer.state.best_metric
        epochs_run = trainer.state.epoch
        history = epoch_history(trainer.state.log_history)
    prior = loss_at_prior(_labels(data.train), train_config, teacher_values(data))
    check_encoder_learned(float(best_metric), history, train_config, prior)
    fusion = fuse_on_val(trainer.model, data, seed)
    val_logits = predict_logits(trainer.model, data.tokenizer, [record.text for record in data.val])
    val_labels = _labels(data.val)
    val_p_ai = probability_ai(val_logits)
    val_languages = [record.lang for record in data.val]
    cut = threshold(val_labels, val_p_ai, domains=[record.domain for record in data.val], languages=val_languages,
                    texts=[record.text for record in data.val], train_texts=[record.text for record in data.train])
    val_roc_auc = float(roc_auc_score(val_labels, val_p_ai)) if len(set(val_labels)) == 2 else float("nan")
    detector = Detector(model=trainer.model, tokenizer=data.tokenizer, threshold=cut)
    val_called_ai = val_p_ai > cut.per_text(val_languages)
    return TrainResult(detector=detector, best_val_roc_auc=float(best_metric), history=history,
                       val_roc_auc=val_roc_auc, fusion=fusion,
                       epochs_run=float(epochs_run),
                       val_false_positive_rate=float(val_called_ai[val_labels == 0].mean()),
                       val_true_positive_rate=float(val_called_ai[val_labels == 1].mean()))


def teacher_values(data: TrainingData) -> np.ndarray | None:
    """The teacher's P(AI) of each train text in order (NaN where it has none), or None without a teacher."""
    if not data.teacher_p_ai:
        return None
    return np.array([data.teacher_p_ai.get(record.id, np.nan) for record in data.train], dtype=np.float32)


class EncoderDidNotLearn(UserError):
    """The encoder's own val ROC-AUC never rose above `train.min_encoder_val_roc_auc`."""


def prior_entropy(labels: np.ndarray) -> float:
    """The cross-entropy (nats) of always predicting the train split's label shares: a model's loss floor when it
    has learned nothing but the prior.

    >>> round(prior_entropy(np.array([1] * 80 + [0] * 20)), 3), round(prior_entropy(np.array([0, 1])), 3)
    (0.5, 0.693)
    """
    share = float(np.mean(labels))
    return 0.0 if share in (0.0, 1.0) else float(-(share * np.log(share) + (1 - share) * np.log(1 - share)))


def class_weights(labels: np.ndarray, rule: str) -> torch.Tensor | None:
    """The loss weight of each label (HUMAN, AI) under `train.class_weight`; None for "none" or a one-class split.

    >>> class_weights(np.array([1] * 80 + [0] * 20), "balanced").tolist()
    [2.5, 0.625]
    """
    counts = np.bincount(labels, minlength=2)
    if rule == "none" or (counts == 0).any():
        return None
    return torch.tensor(len(labels) / (2 * counts), dtype=torch.float32)


def loss_at_prior(labels: np.ndarray, config: TrainConfig, teacher_p_ai: np.ndarray | None = None) -> float:
    """The train loss of a model that learned nothing about the texts: the recipe's own loss (`distillation_loss`,
    with its class weights, label smoothing and, given `teacher_p_ai`, the teacher's soft labels) at the best
    constant answer. A constant model has one free number, its logit for AI; the loss is convex in it, so a bounded
    scalar search finds it. Without a teacher or class weights that is the prior's entropy; with balanced weights
    ln 2 (the best constant answer is then 50/50).

    >>> labels = np.array([1] * 80 + [0] * 20)
    >>> [round(loss_at_prior(labels, TrainConfig(class_weight=rule)), 3) for rule in ("none", "balanced")]
    [0.5, 0.693]
    """
    targets = torch.from_numpy(labels)
    teacher = None if teacher_p_ai is None else torch.as_tensor(teacher_p_ai, dtype=torch.float32)
    weights = class_weights(labels, config.class_weight)
    alpha = config.distill_alpha if teacher is not None else 0.0

    def loss(logit_ai: float) -> float:
        logits = torch.tensor([[0.0, logit_ai]]).expand(len(labels), 2)
        return float(distillation_loss(logits, targets, teacher, alpha, config.distill_temperature,
                                       config.label_smoothing, weights))

    return float(minimize_scalar(loss, bounds=(-30.0, 30.0), method="bounded", options={"xatol": 1e-6}).fun)


def check_encoder_learned(best_val_roc_auc: float, history: Sequence[Mapping], config: TrainConfig,
                          prior: float | None = None) -> None:
    """Fail (or warn, `train.encoder_guard: warn`) when the encoder alone never beat chance by the margin asked, or
    when its training ended with a train loss not `train.min_loss_drop_from_prior` below `prior`, the loss of the
    best constant answer (`loss_at_prior`; the class prior's entropy without a teacher): the optimisation collapsed
    to the prior. A small task can rank val perfectly while the loss is still near the prior early on, so the end of
    the curve is read, not its best epoch.

    Without this, a collapsed encoder ships silently: the fusion gives it a weight near zero and the n-gram branch
    makes every decision, while every compressed, exported and served variant carries the dead encoder. The loss
    check catches the collapse that a lucky epoch hides from the ROC-AUC floor (L2R, 6 epochs: seed 1's train loss
    0.54, 0.49, 0.51, 0.51, 0.51 against the prior's 0.50, best val ROC-AUC 0.81 at epoch 3, fusion weight 0.0001;
    seed 2's 0.52, 0.45, 0.51, best val 0.74 at epoch 1, fusion weight 0).
    A val split with one label has no ROC-AUC (NaN): nothing to check.
    """
    curve = ", ".join(f"{row.get('val_roc_auc', float('nan')):.3f}" for row in history)
    losses = [row["train_loss"] for row in history if "train_loss" in row]
    details = (f"val ROC-AUC by epoch: {curve}; train loss: {', '.join(f'{loss:.3f}' for loss in losses)}. A loss "
               "flat at the class prior's entropy means it predicts the prior. Try a lower train.learning_rate or "
               "pretrain.learning_rate, or set train.encoder_guard: warn to ship it anyway (the lexical branch then "
               "makes the decisions)")
    fail = config.encoder_guard == "fail"
    guard_learning("the encoder", best_val_roc_auc, config.min_encoder_val_roc_auc, "train.min_encoder_val_roc_auc",
                   fail=fail, details=details)
    if prior and ended_at_prior(history, prior, config.min_loss_drop_from_prior):
        refuse(f"the encoder did not learn: its training ended at train loss {losses[-1]:.3f}, not "
               f"train.min_loss_drop_from_prior ({config.min_loss_drop_from_prior:.0%}) below {prior:.3f}, the loss "
               f"of answering the class prior whatever the text ({details})", fail)


def ended_at_prior(history: Sequence[Mapping], prior: float, min_drop: float) -> bool:
    """Training ended with a train loss not `min_drop` below `prior` (`loss_at_prior`): it predicts the prior.

    >>> ended_at_prior([{"train_loss": 0.45}, {"train_loss": 0.51}], 0.5, 0.1)
    True
    """
    losses = [row["train_loss"] for row in history if "train_loss" in row]
    return bool(losses) and losses[-1] > prior * (1 - min_drop)


def guard_learning(what: str, best_val_roc_auc: float, minimum: float, param: str, fail: bool, details: str) -> None:
    """Raise `EncoderDidNotLearn` (or, with `fail` False, warn on stderr) when `best_val_roc_auc` < `minimum`."""
    if not best_val_roc_auc < minimum:
        return
    refuse(f"{what} did not learn: its best val ROC-AUC alone is {best_val_roc_auc:.3f}, below {param} {minimum} "
           f"({details})", fail)


def refuse(message: str, fail: bool) -> None:
    """Raise `EncoderDidNotLearn` with `message`, or (`fail` False) say it on stderr as a warning."""
    if fail:
        raise EncoderDidNotLearn(message)
    print(f"warning: {message}", file=sys.stderr)


def epoch_history(log_history: Sequence[Mapping]) -> list[dict[str, float]]:
    """The Trainer's log as one row per epoch: the encoder's train loss, val loss and val ROC-AUC.

    >>> epoch_history([{"loss": 0.6, "epoch": 1.0}, {"eval_loss": 0.5, "eval_roc_auc": 0.8, "epoch": 1.0},
    ...                {"train_runtime": 9.0, "epoch": 1.0}])
    [{'epoch': 1.0, 'train_loss': 0.6, 'val_loss': 0.5, 'val_roc_auc': 0.8}]
    """
    rows: dict[float, dict[str, float]] = {}
    names = {"loss": "train_loss", "eval_loss": "val_loss", "eval_roc_auc": "val_roc_auc"}
    for entry in log_history:
        for key, name in names.items():
            if key in entry:
                rows.setdefault(round(float(entry["epoch"]), 3), {})[name] = round(float(entry[key]), 6)
    return [{"epoch": epoch, **values} for epoch, values in sorted(rows.items())]


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
