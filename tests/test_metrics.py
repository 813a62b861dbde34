import numpy as np
import pytest

from tinydetect.evaluation.metrics import choose_threshold, quality, tpr_at_fpr


def test_perfect_scores():
    labels = np.array([0, 0, 0, 1, 1, 1])
    p_ai = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    metrics = quality(labels, p_ai, choose_threshold(labels, p_ai))
    assert metrics["accuracy"] == metrics["f1"] == metrics["roc_auc"] == 1.0
    assert metrics["tpr_at_1pct_fpr"] == 1.0
    assert 0.3 < metrics["threshold"] < 0.7


def test_tpr_at_fpr_counts_only_allowed_false_positives():
    # 20 humans, one scoring above every AI text: at 5% FPR (1 of 20) all AI texts are caught.
    labels = np.array([0] * 20 + [1] * 4)
    p_ai = np.array([0.99] + [0.1] * 19 + [0.6, 0.7, 0.8, 0.9])
    assert tpr_at_fpr(labels, p_ai, 0.05) == 1.0
    assert tpr_at_fpr(labels, p_ai, 0.01) == 0.0


def test_threshold_and_rates():
    labels = np.array([0, 0, 1, 1])
    metrics = quality(labels, np.array([0.2, 0.6, 0.4, 0.9]), threshold=0.5)
    assert metrics["accuracy"] == 0.5
    assert metrics["false_positive_rate"] == 0.5 and metrics["false_negative_rate"] == 0.5
    assert metrics["roc_auc"] == pytest.approx(0.75)
