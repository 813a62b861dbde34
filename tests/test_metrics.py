import numpy as np
import pytest

from tinydetect.decision.policies import choose_threshold
from tinydetect.evaluation.metrics import quality, tpr_at_fpr


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


def brute_force_threshold(labels, p_ai):
    """The F1-optimal cut by trying every midpoint (what choose_threshold computed before, quadratically)."""
    from sklearn.metrics import f1_score

    scores = np.unique(p_ai)
    candidates = np.concatenate([[0.0], (scores[:-1] + scores[1:]) / 2, [1.0]])
    f1 = [f1_score(labels, p_ai > cut, zero_division=0.0) for cut in candidates]
    return float(candidates[int(np.argmax(f1))])


@pytest.mark.parametrize("seed", range(5))
def test_threshold_equals_the_brute_force_search(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    p_ai = np.round(np.clip(labels * 0.3 + rng.normal(0.4, 0.2, 300), 0, 1), 2)  # rounded: many ties
    assert choose_threshold(labels, p_ai) == brute_force_threshold(labels, p_ai)


def test_threshold_edge_cases():
    assert choose_threshold(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5  # one distinct score
    assert choose_threshold(np.array([1, 1, 0]), np.array([0.2, 0.3, 0.9])) == 0.0  # all AI is best


def test_quality_of_a_one_class_slice_has_no_roc_auc():
    metrics = quality(np.array([1, 1]), np.array([0.2, 0.9]), threshold=0.5)
    assert metrics["roc_auc"] is None and metrics["accuracy"] == 0.5
