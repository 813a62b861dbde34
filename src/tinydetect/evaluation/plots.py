"""Everything eval writes: metrics per variant, ROC and confusion data, PNGs, error examples, latency."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: eval runs on servers and in CI
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import ConfusionMatrixDisplay, roc_curve

from tinydetect.core.files import atomic_path
from tinydetect.core.records import LABELS, Record


def roc_table(labels: np.ndarray, p_ai: np.ndarray) -> pd.DataFrame:
    """ROC points for DVC's `simple` template; sklearn's leading `inf` threshold becomes 1."""
    fpr, tpr, thresholds = roc_curve(labels, p_ai)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(thresholds, 1.0)}).round(6)


def confusion_table(labels: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """One row per text, `actual` and `predicted` label names, for DVC's `confusion` template."""
    return pd.DataFrame({"actual": [LABELS[i] for i in labels], "predicted": [LABELS[i] for i in predicted]})


def write_csv(path: Path, table: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def write_png(path: Path, figure: plt.Figure) -> None:
    with atomic_path(path) as tmp:
        # no creation date inside the PNG: the same run writes the same bytes
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)


def roc_figure(curves: dict[str, pd.DataFrame], aucs: dict[str, float]) -> plt.Figure:
    figure, axes = plt.subplots(figsize=(5, 5))
    for name, table in curves.items():
        axes.plot(table["fpr"], table["tpr"], label=f"{name} (AUC {aucs[name]:.3f})")
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axes.set(xlabel="false positive rate (human called AI)", ylabel="true positive rate", title="ROC on test")
    axes.legend(loc="lower right")
    return figure


def confusion_figure(labels: np.ndarray, predicted: np.ndarray, title: str) -> plt.Figure:
    figure, axes = plt.subplots(figsize=(4, 4))
    ConfusionMatrixDisplay.from_predictions(labels, predicted, labels=[0, 1], display_labels=list(LABELS), ax=axes, colorbar=False)
    axes.set_title(title)
    return figure


def error_rows(records: Sequence[Record], p_ai: np.ndarray, threshold: float | np.ndarray, limit: int) -> list[dict]:
    """Misclassified texts, most confident mistakes (farthest from their cut) first."""
    rows = []
    cuts = np.broadcast_to(np.asarray(threshold, dtype=float), np.shape(p_ai))
    for record, probability, cut in zip(records, p_ai, cuts, strict=True):
        predicted = "AI" if probability > cut else "HUMAN"
        if predicted != record.label:
            rows.append({
                "id": record.id,
                "label": record.label,
                "predicted": predicted,
                "p_ai": round(float(probability), 6),
                "threshold": round(float(cut), 6),
                "lang": record.lang,
                "text": record.text,
            })
    rows.sort(key=lambda row: (-abs(row["p_ai"] - row["threshold"]), row["id"]))
    return rows[:limit]


def variants_table(metrics: dict) -> pd.DataFrame:
    """One row per model variant: size, latency and quality, for DVC's scatter plots."""
    rows = [
        {"variant": name, "size_mb": m.get("size_mb"), "latency_ms_p50": m.get("latency_ms_p50"), "roc_auc": m["roc_auc"]}
        for name, m in metrics.items() if isinstance(m, dict) and "size_mb" in m
    ]
    return pd.DataFrame(rows)


def size_latency_figure(sizes: dict[str, float], latencies: dict[str, float], aucs: dict[str, float],
                        latency_label: str) -> plt.Figure:
    """Every variant as a point: size (x), latency (y), ROC-AUC (colour)."""
    figure, axes = plt.subplots(figsize=(7, 5))
    names = list(sizes)
    points = axes.scatter([sizes[n] for n in names], [latencies[n] for n in names],
                          c=[aucs.get(n, np.nan) for n in names], cmap="viridis", s=60)
    for name in names:
        axes.annotate(name, (sizes[name], latencies[name]), fontsize=7, xytext=(4, 3), textcoords="offset points")
    figure.colorbar(points, ax=axes, label="test ROC-AUC")
    axes.set(xlabel="model size (MB)", ylabel=latency_label, title="Every variant: size vs latency vs ROC-AUC")
    return figure
