"""Quality metrics with AI as the positive class, all from scikit-learn."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score, roc_curve


def choose_threshold(labels: np.ndarray, p_ai: np.ndarray) -> float:
    """The probability cut that maximises F1 on these (validation) labels.

    Candidates are midpoints between sorted distinct scores, so the cut never sits
    exactly on a score and small float noise cannot flip a label.

    >>> choose_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.6, 0.9]))
    0.5
    """
    scores = np.unique(p_ai)
    candidates = np.concatenate([[0.0], (scores[:-1] + scores[1:]) / 2, [1.0]]) if len(scores) > 1 else np.array([0.5])
    f1_by_candidate = [f1_score(labels, p_ai > cut, zero_division=0.0) for cut in candidates]
    return float(candidates[int(np.argmax(f1_by_candidate))])


def tpr_at_fpr(labels: np.ndarray, p_ai: np.ndarray, max_fpr: float) -> float:
    """The best true-positive rate with a false-positive rate at most `max_fpr`."""
    fpr, tpr, _ = roc_curve(labels, p_ai)
    return float(tpr[fpr <= max_fpr].max())


def quality(labels: np.ndarray, p_ai: np.ndarray, threshold: float) -> dict[str, float]:
    """Flat metrics for one model on one split; `labels` must hold both classes."""
    predicted = (p_ai > threshold).astype(int)
    true_negative, false_positive, false_negative, true_positive = confusion_matrix(
        labels, predicted, labels=[0, 1]
    ).ravel()
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "f1": float(f1_score(labels, predicted, zero_division=0.0)),
        "roc_auc": float(roc_auc_score(labels, p_ai)),
        "tpr_at_1pct_fpr": tpr_at_fpr(labels, p_ai, 0.01),
        "tpr_at_5pct_fpr": tpr_at_fpr(labels, p_ai, 0.05),
        "false_positive_rate": float(false_positive / max(1, false_positive + true_negative)),
        "false_negative_rate": float(false_negative / max(1, false_negative + true_positive)),
        "threshold": float(threshold),
    }


def parity(source_logits: np.ndarray, variant_logits: np.ndarray, threshold: float) -> dict[str, float]:
    """How closely a compressed or exported variant reproduces its source on the same texts.

    Labels on both sides use the source's threshold on P(AI).

    >>> parity(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.0, 0.9], [0.2, 0.1]]), 0.5)
    {'max_abs_logit_diff': 0.8, 'label_agreement': 1.0}
    """
    def labels(logits: np.ndarray) -> np.ndarray:
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted[:, 1] / shifted.sum(axis=1) > threshold

    return {
        "max_abs_logit_diff": round(float(np.abs(source_logits - variant_logits).max()), 6),
        "label_agreement": float(np.mean(labels(source_logits) == labels(variant_logits))),
    }
