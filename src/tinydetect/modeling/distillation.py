"""Knowledge distillation: a teacher's soft labels on the training texts, and the loss that learns from them.

The teacher (`train.teacher: tfidf`) is the character n-gram model of the baseline, trained in
the pipeline on the train split and *cross-fitted*: each training text's soft label comes from
a teacher that never saw that text (k folds by group), so the labels carry what the teacher
knows rather than what it memorised. The student's loss is, as in DistilBERT and TinyBERT,

    alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * cross_entropy(labels, student)

with both distributions softened by the temperature T (`train.distill_alpha`,
`train.distill_temperature`). With `train.teacher: none` (or no soft label for a text) it is
the plain cross-entropy with label smoothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from transformers import Trainer

from tinydetect.core.records import Record
from tinydetect.modeling.baseline import baseline_probability_ai, train_baseline
from tinydetect.modeling.cross_fitting import cross_fit_folds

TEACHER_FIELD = "teacher_p_ai"  # the dataset field holding the teacher's P(AI); NaN where there is none


def cross_fitted_soft_labels(records: Sequence[Record], max_features: int, seed: int, folds: int = 5) -> np.ndarray:
    """P(AI) of each record from a TF-IDF teacher trained on the other folds (grouped, stratified), shape (n,)."""
    labels = np.array([record.label_int for record in records])
    soft = np.full(len(records), np.nan)
    for kept, held in cross_fit_folds(labels, [record.group for record in records], seed, folds):
        teacher = train_baseline([records[i] for i in kept], max_features, seed)
        soft[held] = baseline_probability_ai(teacher, [records[i] for i in held])
    return soft


def distillation_loss(logits: torch.Tensor, labels: torch.Tensor, teacher_p_ai: torch.Tensor | None, alpha: float,
                      temperature: float, label_smoothing: float,
                      class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """The mixed loss above; rows without a teacher label (NaN) get the hard loss alone. `class_weights` (one per
    label) weigh each row's hard loss by its label."""
    weights = None if class_weights is None else class_weights.to(logits.dtype)
    hard = F.cross_entropy(logits, labels, weight=weights, label_smoothing=label_smoothing, reduction="none")  # (batch,)
    if teacher_p_ai is None or alpha == 0:
        return hard.mean()
    known = ~torch.isnan(teacher_p_ai)
    p = teacher_p_ai.nan_to_num(0.5).clamp(1e-6, 1 - 1e-6).to(logits.dtype)
    teacher_logits = torch.stack([torch.log1p(-p), torch.log(p)], dim=-1)  # (batch, 2), up to a constant
    teacher_soft = F.softmax(teacher_logits / temperature, dim=-1)
    student_log = F.log_softmax(logits / temperature, dim=-1)
    soft = F.kl_div(student_log, teacher_soft, reduction="none").sum(-1) * temperature**2  # (batch,)
    return torch.where(known, alpha * soft + (1 - alpha) * hard, hard).mean()


class DistillationTrainer(Trainer):
    """The Hugging Face `Trainer` with `distillation_loss` (and label smoothing) as its loss."""

    def __init__(self, *args, alpha: float, temperature: float, label_smoothing: float,
                 class_weights: torch.Tensor | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.alpha, self.temperature, self.smoothing = alpha, temperature, label_smoothing
        self.class_weights = class_weights

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        teacher_p_ai = inputs.pop(TEACHER_FIELD, None)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = distillation_loss(outputs.logits, labels, teacher_p_ai, self.alpha, self.temperature, self.smoothing,
                                 self.class_weights)
        return (loss, outputs) if return_outputs else loss
