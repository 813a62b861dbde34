"""Where the detector works and where it does not: quality per language, domain and generator, and calibration."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tinydetect.core.records import Record
from tinydetect.evaluation.metrics import quality

CALIBRATION_BINS = 10


def generator(record: Record) -> str:
    """Who wrote the text: `human`, or the model named in the data (`model`) or in synth's provenance."""
    if record.label == "HUMAN":
        return "human"
    extra = record.model_extra or {}
    provenance = extra.get("provenance") or {}
    return str(extra.get("model") or provenance.get("model") or "unknown")


def _quality(labels: np.ndarray, p_ai: np.ndarray, threshold: np.ndarray) -> dict:
    """The slice's count and the usual metrics (`metrics.quality`), rounded; None where one class is missing."""
    full = quality(labels, p_ai, threshold)
    return {
        "count": len(labels),
        "accuracy": round(full["accuracy"], 6),
        "f1": round(full["f1"], 6) if labels.any() else None,
        "roc_auc": round(full["roc_auc"], 6) if full["roc_auc"] is not None else None,
    }


def slice_quality(records: Sequence[Record], p_ai: np.ndarray, threshold: float | np.ndarray) -> dict[str, dict[str, dict]]:
    """Quality per `lang` and `domain` (texts of that value), and per generator (its AI texts against every human one).

    A slice with one class has no ROC-AUC (None); per generator, `recall` is the share of
    its texts called AI at the threshold (one for all texts, or each text's).
    """
    labels = np.array([record.label_int for record in records])
    threshold = np.broadcast_to(np.asarray(threshold, dtype=float), p_ai.shape)
    slices: dict[str, dict[str, dict]] = {}
    for field in ("lang", "domain"):
        groups = defaultdict(list)
        for index, record in enumerate(records):
            if getattr(record, field) is not None:
                groups[str(getattr(record, field))].append(index)
        if groups:
            slices[field] = {value: _quality(labels[idx], p_ai[idx], threshold[idx]) for value, idx in sorted(groups.items())}
    humans = [i for i, record in enumerate(records) if record.label == "HUMAN"]
    by_generator = defaultdict(list)
    for index, record in enumerate(records):
        if record.label == "AI":
            by_generator[generator(record)].append(index)
    slices["generator"] = {}
    for name, idx in sorted(by_generator.items()):
        both = humans + idx
        slices["generator"][name] = _quality(labels[both], p_ai[both], threshold[both]) | {
            "count": len(idx), "recall": round(float(np.mean(p_ai[idx] > threshold[idx])), 6)
        }
    return slices


def calibration(labels: np.ndarray, p_ai: np.ndarray) -> tuple[pd.DataFrame, float]:
    """Reliability curve (mean P(AI) vs share AI per bin) and the expected calibration error.

    One binning serves the curve and the counts that weight the error: `CALIBRATION_BINS`
    equal-width bins exactly as `sklearn.calibration.calibration_curve` makes them (a score on
    an edge goes to the bin below it), empty bins left out. sklearn returns no counts, hence
    this code; counting with a second binning (`int(p * 10)`) disagreed with sklearn's at bin
    edges (0.1 fell in bin 1 for one, bin 0 for the other) and the error could not be computed.

    >>> table, ece = calibration(np.array([0, 0, 1, 1]), np.array([0.05, 0.15, 0.85, 0.95]))
    >>> round(ece, 3)
    0.1
    """
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins = np.searchsorted(edges[1:-1], p_ai)  # (n,) bin of each score, as sklearn assigns it
    counts = np.bincount(bins, minlength=CALIBRATION_BINS)
    filled = counts > 0
    mean_p = np.bincount(bins, weights=p_ai, minlength=CALIBRATION_BINS)[filled] / counts[filled]
    fraction_ai = np.bincount(bins, weights=labels, minlength=CALIBRATION_BINS)[filled] / counts[filled]
    ece = float(np.sum(np.abs(fraction_ai - mean_p) * counts[filled]) / len(labels))
    table = pd.DataFrame({"mean_p_ai": mean_p, "fraction_ai": fraction_ai, "count": counts[filled]}).round(6)
    return table, ece
