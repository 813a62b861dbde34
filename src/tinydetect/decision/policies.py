"""The threshold policies: how a cut on P(AI) is chosen on val (`eval.threshold_policy`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import binom
from sklearn.metrics import precision_recall_curve

from tinydetect.core.config import THRESHOLD_POLICIES


def choose_threshold(labels: np.ndarray, p_ai: np.ndarray) -> float:
    """The probability cut that maximises F1 on these (validation) labels.

    The cut sits midway between the lowest score called AI and the next lower score, so it
    never sits exactly on a score and small float noise cannot flip a label. One pass of
    `precision_recall_curve` scores every candidate (an F1 per cut would be quadratic).

    >>> choose_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.6, 0.9]))
    0.5
    """
    scores = np.unique(p_ai)
    if len(scores) < 2:
        return 0.5
    precision, recall, cuts = precision_recall_curve(labels, p_ai)
    precision, recall = precision[:-1], recall[:-1]  # the last point (no text called AI) has no cut
    # back to counts, so F1 is 2TP / (2TP + FP + FN) exactly as f1_score computes it: equal F1s stay equal
    positives = int(np.sum(labels))
    true_positives = np.rint(recall * positives)
    with np.errstate(invalid="ignore", divide="ignore"):
        called_ai = np.where(precision > 0, np.rint(true_positives / precision), 0.0)
    denominator = true_positives + called_ai + positives  # 2TP + FP + FN
    f1 = np.divide(2 * true_positives, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    best = cuts[int(np.argmax(f1))]  # the lowest cut among equals, as texts scoring >= it are called AI
    lower = scores[scores < best]
    return float((lower[-1] + best) / 2) if len(lower) else 0.0


def threshold_for_fpr(labels: np.ndarray, p_ai: np.ndarray, target_fpr: float) -> float:
    """The cut (`p > cut` is AI) at the (1 - target_fpr) quantile of the human texts' scores.

    Linear interpolation between order statistics (NumPy's default quantile) estimates the cut
    that labels `target_fpr` of human texts *like these* AI, rather than the share of this
    sample: with 90 human texts and a 1% target there is no "1% of this sample" to exceed,
    and the highest human score alone, an outlier, would set a cut that almost no AI text
    passes (measured on L2R: test TPR 0.06 at the highest val human score, 0.56 at the 99th
    percentile, against 0.60 possible at 1% FPR). On the sample the cut is estimated from, the
    rate can come out a little above the target when there are fewer than 1/target humans.

    >>> threshold_for_fpr(np.array([0, 0, 0, 0, 0, 1]), np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.9]), 0.25)
    0.4
    """
    return float(np.quantile(p_ai[labels == 0], 1.0 - target_fpr))


def threshold_for_fpr_in_every_domain(labels: np.ndarray, p_ai: np.ndarray, target_fpr: float,
                                      domains: Sequence[str | None]) -> float:
    """The highest of the per-domain `threshold_for_fpr` cuts: about `target_fpr` of the human texts of *every*
    domain labelled AI, not just of the mix.

    A mix dominated by easy human texts (short reviews) sets a cut that harder ones (essays)
    exceed far more often: measured on KatFish + NSMC, 10.6% of the human test texts were labelled
    AI at the mix's cut, essays nearly all of them.

    >>> labels, p_ai = np.array([0, 0, 0, 0, 1]), np.array([0.1, 0.2, 0.7, 0.8, 0.9])
    >>> threshold_for_fpr_in_every_domain(labels, p_ai, 0.0, ["review", "review", "essay", "essay", "essay"])
    0.8
    """
    domains = np.array([str(domain) for domain in domains])
    human_domains = np.unique(domains[labels == 0])
    return max(threshold_for_fpr(labels[domains == domain], p_ai[domains == domain], target_fpr)
               for domain in human_domains)


def threshold_for_fpr_not_exceeded_in_any_domain(labels: np.ndarray, p_ai: np.ndarray, target_fpr: float,
                                                  domains: Sequence[str | None], significance: float = 0.05) -> float:
    """The lowest cut at which the pooled human rate meets `target_fpr` and no domain's count of human texts
    above the cut is *significantly* more than `target_fpr` of its texts (one-sided binomial test).

    The per-domain cut of `threshold_for_fpr_in_every_domain` rests on each domain's single highest human
    score when a domain has fewer than 1/target_fpr human texts; one confidently wrong human text then sets
    a cut almost no AI text passes. Here a domain of n human texts may keep its top k above the cut while
    seeing k or more of n is still likely (probability >= `significance`) at the target rate: with 1% and
    20 texts, k = 1 (a 18% chance); with 100, k = 3.

    200 reviews below 0.3 and 20 essays, the top two at 0.6 and 0.99: the essays' 99th percentile
    would be 0.916; here the one essay at 0.99 may stay above the cut.

    >>> labels, domains = np.zeros(220, dtype=int), ["review"] * 200 + ["essay"] * 20
    >>> p_ai = np.r_[np.linspace(0.0, 0.3, 200), np.linspace(0.1, 0.5, 18), 0.6, 0.99]
    >>> threshold_for_fpr_not_exceeded_in_any_domain(labels, p_ai, 0.01, domains)
    0.6
    """
    domains = np.array([str(domain) for domain in domains])
    cuts = [threshold_for_fpr(labels, p_ai, target_fpr)]
    for domain in np.unique(domains[labels == 0]):
        human_scores = np.sort(p_ai[(domains == domain) & (labels == 0)])[::-1]
        allowed_above = _largest_plausible_count(len(human_scores), target_fpr, significance)
        if allowed_above < len(human_scores):
            cuts.append(float(human_scores[allowed_above]))
    return max(cuts)


def _largest_plausible_count(texts: int, rate: float, significance: float) -> int:
    """The largest k with P(X >= k) >= significance for X ~ Binomial(texts, rate)."""
    counts = np.arange(texts + 1)
    plausible = binom.sf(counts - 1, texts, rate) >= significance  # sf(k - 1) = P(X >= k)
    return int(counts[plausible].max())




def choose_threshold_by(policy: str, labels: np.ndarray, p_ai: np.ndarray, target_fpr: float,
                        domains: Sequence[str | None] | None = None) -> float:
    """The cut on val that `eval.threshold_policy` asks for.

    `target_fpr_pooled`: about `target_fpr` of all val human texts labelled AI;
    `target_fpr_every_domain`: of every domain's (each domain's quantile, the highest of them);
    `target_fpr_tolerant`: pooled, and no domain significantly above the target (binomial test);
    `f1`: the F1-optimal cut.
    """
    domains = domains or [None] * len(labels)
    if policy == "target_fpr_pooled":
        return threshold_for_fpr(labels, p_ai, target_fpr)
    if policy == "target_fpr_every_domain":
        return threshold_for_fpr_in_every_domain(labels, p_ai, target_fpr, domains)
    if policy == "target_fpr_tolerant":
        return threshold_for_fpr_not_exceeded_in_any_domain(labels, p_ai, target_fpr, domains)
    if policy == "f1":
        return choose_threshold(labels, p_ai)
    raise ValueError(f"unknown threshold policy {policy!r}: one of {', '.join(THRESHOLD_POLICIES)}")
