"""The architecture search in one picture: every candidate by search, the Pareto front, the hand-made and pruned
shapes (left); the best val score after each evaluation, evolutionary vs random (right)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: stages run on servers and in CI
import matplotlib.pyplot as plt
import pandas as pd

MARKERS = {"random": ("o", "tab:gray"), "evolutionary": ("o", "tab:blue"), "hand-made": ("*", "tab:red"),
           "pruned": ("*", "tab:orange")}


def search_figure(candidates: pd.DataFrame, progress: pd.DataFrame, budget_ms: float) -> plt.Figure:
    figure, (front_axes, progress_axes) = plt.subplots(1, 2, figsize=(11, 4.2))
    for method, rows in candidates.groupby("method", sort=False):
        marker, colour = MARKERS.get(method, ("o", None))
        front_axes.scatter(rows["predicted_latency_ms"], rows["val_roc_auc"], marker=marker, color=colour,
                           s=140 if marker == "*" else 16, alpha=1 if marker == "*" else 0.6, label=method)
    front = candidates[candidates["pareto"].astype(bool)].sort_values("predicted_latency_ms")
    front_axes.step(front["predicted_latency_ms"], front["val_roc_auc"], where="post", color="black", lw=1,
                    label="Pareto front")
    front_axes.axvline(budget_ms, color="tab:green", ls="--", lw=1, label=f"budget {budget_ms:g} ms")
    front_axes.set(xlabel="predicted latency, ms (ONNX INT8, 1 thread)", ylabel="val ROC-AUC (inherited weights)",
                   title="sub-networks evaluated")
    front_axes.legend(fontsize=8)
    for column in progress.columns.drop("evaluated"):
        method = column.removeprefix("best_val_roc_auc_")
        progress_axes.plot(progress["evaluated"], progress[column], color=MARKERS.get(method, (None, None))[1],
                           label=method)
    progress_axes.set(xlabel="sub-networks evaluated", ylabel="best val ROC-AUC so far", title="search progress")
    progress_axes.legend(fontsize=8)
    figure.tight_layout()
    return figure
