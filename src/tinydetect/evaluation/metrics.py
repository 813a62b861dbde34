"""Quality metrics with AI as the positive class, all from scikit-learn."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score, roc_curve


def tpr_at_fpr(labels: np.ndarray, p_ai: np.ndarray, max_fpr: float) -> float:
    """The best true-positive rate with a false-positive rate at most `max_fpr`."""
    fpr, tpr, _ = roc_curve(labels, p_ai)
    return float(tpr[fpr <= max_fpr].max())


def quality(labels: np.ndarray, p_ai: np.ndarray, threshold: float | np.ndarray) -> dict[str, float | None]:
    """Flat metrics for one model on one split; rates that need both classes are None when one is missing.

    `threshold`: one cut, or each text's (a cut per language, `Threshold.per_text`); `threshold` in the
    result is the cut, or None where the texts had several (the caller names them).
    """
    predicted = (p_ai > threshold).astype(int)
    true_negative, false_positive, false_negative, true_positive = confusion_matrix(
        labels, predicted, labels=[0, 1]
    ).ravel()
    both = len(np.unique(labels)) == 2
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "f1": float(f1_score(labels, predicted, zero_division=0.0)),
        "roc_auc": float(roc_auc_score(labels, p_ai)) if both else None,
        "tpr_at_1pct_fpr": tpr_at_fpr(labels, p_ai, 0.01) if both else None,
        "tpr_at_5pct_fpr": tpr_at_fpr(labels, p_ai, 0.05) if both else None,
        "false_positive_rate": float(false_positive / max(1, false_positive + true_negative)),
        "false_negative_rate": float(false_negative / max(1, false_negative + true_positive)),
        "threshold": float(threshold) if np.ndim(threshold) == 0 else None,
    }
