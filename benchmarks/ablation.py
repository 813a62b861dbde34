"""What each quality lever buys: the quality benchmark once per lever setting, one row each.

Every row is a full `dvc repro` of `benchmarks.quality` on the same data and split, with the
detector's own rows compared (exports are switched off in these runs to save time:
`prune.finetune_epochs=0`, `coreml.variants=[]`; the main benchmark runs them all). The threshold
policy moves no ranking metric, so it has no row: each row reports F1 and accuracy at the F1-optimal
cut beside the shipped cut's false-positive rate. Writes
`benchmarks/results/ablation_<data>.json` and prints the table docs/detector.md copies.

    python -m benchmarks.ablation --data l2r [--only lexical,defaults]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from benchmarks import REPO_ROOT
from benchmarks._common import commit
from tinydetect.core.files import write_json

FAST = ["prune.finetune_epochs=0", "coreml.variants=[]"]
ROWS = {  # name: overrides on top of params.yaml (whose defaults are the shipped recipe)
    "before: from scratch, no lexical branch": ["model.lexical_buckets=0", "pretrain.epochs=0", "train.teacher=none"],
    "+ MLM pre-training": ["model.lexical_buckets=0", "train.teacher=none"],
    "pre-training + lexical branch, hard labels": ["train.teacher=none"],
    "+ distillation from the TF-IDF teacher (the defaults)": ["train.teacher=tfidf"],
    "lexical branch without pre-training": ["pretrain.epochs=0", "train.teacher=none"],
}
COLUMNS = ("roc_auc", "tpr_at_5pct_fpr", "tpr_at_1pct_fpr", "f1", "accuracy", "false_positive_rate")


def run_row(data: str, row: int, overrides: list[str]) -> dict:
    """One quality run; its per-text scores are kept as `ablation_<data>_row<row>_scores.jsonl`
    (for `benchmarks.thresholds --scores`)."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        command = [sys.executable, "-m", "benchmarks.quality", "--data", data, "--out", str(out)]
        for override in [*FAST, *overrides]:
            command += ["--set", override]
        subprocess.run(command, cwd=REPO_ROOT, check=True)
        shutil.copyfile(out.with_suffix(".jsonl"), REPO_ROOT / f"benchmarks/results/ablation_{data}_row{row}_scores.jsonl")
        return json.loads(out.read_text())


def row_summary(result: dict) -> dict:
    detector, baseline = result["variants"]["detector"], result["variants"]["baseline"]
    row = {name: round(detector[name], 4) for name in COLUMNS}
    at_f1_cut = result["detector_at_f1_threshold"]
    row["f1_at_f1_cut"], row["accuracy_at_f1_cut"] = round(at_f1_cut["f1"], 4), round(at_f1_cut["accuracy"], 4)
    row["baseline_roc_auc"] = round(baseline["roc_auc"], 4)
    row["baseline_tpr_at_5pct_fpr"] = round(baseline["tpr_at_5pct_fpr"], 4)
    for lang, metrics in result["slices"].get("lang", {}).items():
        row[f"roc_auc_{lang}"] = metrics["roc_auc"]
    if "nsmc_human_labelled_ai" in result:
        row["nsmc_human_labelled_ai"] = result["nsmc_human_labelled_ai"]
    row["minutes"] = result["minutes"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=("l2r", "katfish", "both"), default="l2r")
    parser.add_argument("--only", help="comma-separated words; rows whose name contains one of them")
    args = parser.parse_args()
    chosen = {name: overrides for name, overrides in ROWS.items()
              if not args.only or any(word in name for word in args.only.split(","))}
    results = REPO_ROOT / f"benchmarks/results/ablation_{args.data}.json"
    # `--only` adds rows to an earlier run's (each row records its own commit)
    rows = json.loads(results.read_text())["rows"] if results.exists() and args.only else {}
    source_commit = commit()
    for name, overrides in chosen.items():
        print(f"--- {name}: {' '.join(overrides) or '(defaults)'}", file=sys.stderr, flush=True)
        row = list(ROWS).index(name) + 1
        rows[name] = {"overrides": overrides, "row": row, "commit": source_commit, "date": date.today().isoformat(),
                      **row_summary(run_row(args.data, row, overrides))}
        # after every row: an hour-long sweep that stops early keeps the rows it finished
        write_json(results, {"data": args.data, "fast_overrides": FAST,
                             "rows": dict(sorted(rows.items(), key=lambda item: item[1]["row"]))})
    print(f"| {args.data} | ROC-AUC | TPR@5%FPR | TPR@1%FPR | F1 / accuracy at the F1 cut | test FPR, shipped cut "
          "| baseline ROC-AUC |")
    print("|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['roc_auc']:.3f} | {row['tpr_at_5pct_fpr']:.3f} | {row['tpr_at_1pct_fpr']:.3f} | "
              f"{row['f1_at_f1_cut']:.3f} / {row['accuracy_at_f1_cut']:.3f} | {row['false_positive_rate']:.3f} | "
              f"{row['baseline_roc_auc']:.3f} |")


if __name__ == "__main__":
    main()
