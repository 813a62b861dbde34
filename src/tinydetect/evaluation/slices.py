"""Where the detector works and where it does not: quality per language, domain and generator, and calibration."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from tinydetect.core.records import Record

CALIBRATION_BINS = 10


def generator(record: Record) -> str:
    """Who wrote the text: `human`, or the model named in the data (`model`) or in synth's provenance."""
    if record.label == "HUMAN":
        return "human"
    extra = record.model_extra or {}
    provenance = extra.get("provenance") or {}
    return str(extra.get("model") or provenance.get("model") or "unknown")


def _quality(labels: np.ndarray, p_ai: np.ndarray, threshold: float) -> dict:
    predicted = (p_ai > threshold).astype(int)
    both = len(set(labels.tolist())) == 2
    return {
        "count": len(labels),
        "accuracy": round(float(accuracy_score(labels, predicted)), 6),
        "f1": round(float(f1_score(labels, predicted, zero_division=0.0)), 6) if labels.any() else None,
        "roc_auc": round(float(roc_auc_score(labels, p_ai)), 6) if both else None,
    }


def slice_quality(records: Sequence[Record], p_ai: np.ndarray, threshold: float) -> dict[str, dict[str, dict]]:
    """Quality per `lang` and `domain` (texts of that value), and per generator (its AI texts against every human one).

    A slice with one class has no ROC-AUC (None); per generator, `recall` is the share of
    its texts called AI at the threshold.
    """
    labels = np.array([record.label_int for record in records])
    slices: dict[str, dict[str, dict]] = {}
    for field in ("lang", "domain"):
        groups = defaultdict(list)
        for index, record in enumerate(records):
            if getattr(record, field) is not None:
                groups[str(getattr(record, field))].append(index)
        if groups:
            slices[field] = {value: _quality(labels[idx], p_ai[idx], threshold) for value, idx in sorted(groups.items())}
    humans = [i for i, record in enumerate(records) if record.label == "HUMAN"]
    by_generator = defaultdict(list)
    for index, record in enumerate(records):
        if record.label == "AI":
            by_generator[generator(record)].append(index)
    slices["generator"] = {}
    for name, idx in sorted(by_generator.items()):
        both = humans + idx
        slices["generator"][name] = _quality(labels[both], p_ai[both], threshold) | {
            "count": len(idx), "recall": round(float(np.mean(p_ai[idx] > threshold)), 6)
        }
    return slices


def calibration(labels: np.ndarray, p_ai: np.ndarray) -> tuple[pd.DataFrame, float]:
    """Reliability curve (mean P(AI) vs share AI per bin) and the expected calibration error.

    >>> table, ece = calibration(np.array([0, 0, 1, 1]), np.array([0.05, 0.15, 0.85, 0.95]))
    >>> round(ece, 3)
    0.1
    """
    fraction_ai, mean_p = calibration_curve(labels, p_ai, n_bins=CALIBRATION_BINS, strategy="uniform")
    bins = np.minimum((p_ai * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    counts = np.bincount(bins, minlength=CALIBRATION_BINS)
    counts = counts[counts > 0]
    ece = float(np.sum(np.abs(fraction_ai - mean_p) * counts) / len(labels))
    table = pd.DataFrame({"mean_p_ai": mean_p, "fraction_ai": fraction_ai, "count": counts}).round(6)
    return table, ece
