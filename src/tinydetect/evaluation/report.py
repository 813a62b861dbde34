"""`report.md`: what a change moved against a base revision, for a reviewer (and for CML to post on a PR).

It asks DVC, never recomputes: `dvc params diff`, `dvc metrics diff` (metrics are committed,
so any git revision works without a DVC remote) and `dvc plots diff` for the curves.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tinydetect.runtime.variants import HEADLINE

HEADLINE_METRICS = ("roc_auc", "f1", "accuracy", "tpr_at_5pct_fpr", "size_mb", "latency_ms_p50")


def dvc(*arguments: str, cwd: str | Path = ".") -> str:
    result = subprocess.run(["dvc", *arguments], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"dvc {' '.join(arguments)} failed: {result.stderr.strip()}")
    return result.stdout


def _number(value) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def headline(diff: dict, base: str) -> list[str]:
    """Old, new and change of the key metrics of the main variants, from `dvc metrics diff --json --all`."""
    evaluation = {key: change for path, keys in diff.items() if path.endswith("eval.json") for key, change in keys.items()}
    lines = [f"| variant | metric | {base} | workspace | change |", "|---|---|---|---|---|"]
    for variant in (*HEADLINE, "baseline"):
        for metric in HEADLINE_METRICS:
            change = evaluation.get(f"{variant}.{metric}")
            if change is None:
                continue
            delta = change.get("diff")
            lines.append(f"| {variant} | {metric} | {_number(change.get('old'))} | {_number(change.get('new'))} | "
                         f"{'' if not delta else ('+' if delta > 0 else '') + _number(delta)} |")
    return lines


def build_report(base: str, cwd: str | Path = ".", plots_dir: str = "report_plots") -> str:
    params = dvc("params", "diff", base, "--md", cwd=cwd).strip()
    changed = dvc("metrics", "diff", base, "--md", cwd=cwd).strip()
    everything = json.loads(dvc("metrics", "diff", base, "--json", "--all", cwd=cwd) or "{}")
    dvc("plots", "diff", base, "--out", plots_dir, cwd=cwd)
    sections = [
        f"# What this change moved (against `{base}`)", "",
        "## Params", "", params or "No params changed.", "",
        "## Headline", "", *headline(everything, base), "",
        "Quality is on the test split; latency is one text on one thread (it varies a little between identical runs).",
        "", "## Every metric that changed", "", changed or "No metric changed.", "",
        "## Plots", "",
        f"`dvc plots diff {base}` wrote `{plots_dir}/index.html`: ROC curves of every variant for both revisions, "
        "calibration, size and latency against ROC-AUC, confusion matrices and the training curves.", "",
        "![ROC](plots/eval/roc.png)", "![Size, latency, ROC-AUC](plots/eval/size_latency_auc.png)", "",
    ]
    return "\n".join(sections)
