"""Quality benchmark: the real pipeline on real LLM rewrites as a user's labelled data.

Copies the repo to a temporary folder, writes the L2R blog and review/message data
from ../shared/data (human texts and GPT-3.5/GPT-4o/Gemini/Llama-3 rewrites of them,
grouped by source text) into data/real/, turns synth off, runs `dvc repro`, and prints
AUC, F1 and TPR at 5% FPR for the detector and the TF-IDF baseline.

    python -m benchmarks.quality [--keep DIR] [--set train.epochs=8 ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks import REPO_ROOT, SHARED_DATA
from tinydetect.core.files import read_lines
from tinydetect.testing.workspace import copy_sources, python_env

L2R_FILES = ("l2r_blogs_en.jsonl", "l2r_reviews_messages_en.jsonl")


def write_l2r_as_user_data(target_dir: Path) -> int:
    """L2R rows in the input contract: `pair_id` becomes `group` so rewrites stay with their source."""
    target_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for name in L2R_FILES:
        rows = [json.loads(line) for line in read_lines(SHARED_DATA / name) if line.strip()]
        for row in rows:
            row["group"] = str(row["pair_id"]) if row.get("pair_id") is not None else row["id"]
        (target_dir / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        count += len(rows)
    return count


def apply_overrides(params_path: Path, overrides: list[str]) -> None:
    params = yaml.safe_load(params_path.read_text())
    params["synth"]["multiplier"] = 0
    for override in overrides:
        dotted, value = override.split("=", 1)
        *parents, leaf = dotted.split(".")
        node = params
        for key in parents:
            node = node[key]
        node[leaf] = yaml.safe_load(value)
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (default: a temporary one)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="params override, repeatable")
    args = parser.parse_args()
    if not all((SHARED_DATA / name).exists() for name in L2R_FILES):
        print(f"skipped: {SHARED_DATA} with {', '.join(L2R_FILES)} is absent")
        return
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="tinydetect-quality-"))
    workdir.mkdir(parents=True, exist_ok=True)
    copy_sources(REPO_ROOT, workdir)
    texts = write_l2r_as_user_data(workdir / "data/real")
    apply_overrides(workdir / "params.yaml", args.set)
    # DVCLive, inside `train`, needs a git repo with a commit
    for git_command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "benchmark"]):
        subprocess.run(["git", *git_command], cwd=workdir, check=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=workdir, check=True, env=python_env())
    minutes = (time.perf_counter() - started) / 60
    metrics = json.loads((workdir / "metrics/eval.json").read_text())
    print(f"\nL2R blogs + reviews/messages: {texts} texts, test split {metrics['test_size']}, dvc repro {minutes:.1f} min")
    print(f"{'model':<18} {'ROC-AUC':>8} {'F1':>6} {'accuracy':>9} {'TPR@5%FPR':>10} {'TPR@1%FPR':>10} {'MB':>7}")
    for name, m in metrics.items():
        if isinstance(m, dict):
            print(f"{name:<18} {m['roc_auc']:8.3f} {m['f1']:6.3f} {m['accuracy']:9.3f} {m['tpr_at_5pct_fpr']:10.3f} "
                  f"{m['tpr_at_1pct_fpr']:10.3f} {m.get('size_mb', float('nan')):7.2f}")
    if args.keep is None:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
