"""Quality benchmark: the real pipeline on real LLM text, as a user's labelled data.

Copies the repo to a temporary folder, writes labelled data from ../shared/data into data/real/
(synth off), runs `dvc repro`, and prints and saves every variant's test metrics:

- `--data l2r`: L2R blogs, reviews and messages (600 human texts, 2,341 rewrites of them by
  GPT-3.5, GPT-4o, Gemini-1.5 and Llama-3), grouped by source text;
- `--data katfish`: KatFish Korean essays (96 human, 318 by GPT-4o, Qwen2, Solar, Llama-3.1 on
  the same topics, grouped by topic) plus 1,000 pre-LLM human NSMC movie reviews, reported apart:
  the share of human Korean test reviews labelled AI;
- `--data both`: one bilingual model on all of it, with per-language rows.

Writes `benchmarks/results/quality_<data>.json` (with the params, the commit and the date) unless
`--out` says otherwise, and beside it `scores_<data>.jsonl`: the detector's P(AI) for every val and
test text, from which `benchmarks.thresholds` compares threshold policies.

    python -m benchmarks.quality --data l2r [--set model.lexical_buckets=0 ...] [--keep DIR]

`--keep DIR` runs in DIR and keeps it; given the folder of an earlier run it resumes it (`dvc repro`
reruns only what changed), so a finished run can be summarised again by newer benchmark code in seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import yaml
from sklearn.metrics import roc_auc_score

from benchmarks import REPO_ROOT, SHARED_DATA
from benchmarks._common import commit
from tinydetect.core.files import read_lines, write_json, write_jsonl
from tinydetect.core.records import load_file
from tinydetect.decision.policies import choose_threshold
from tinydetect.decision.probability import probability_ai
from tinydetect.evaluation.metrics import quality
from tinydetect.modeling.model import Detector, margin_parts
from tinydetect.testing.workspace import copy_sources, python_env

DATASETS = {
    "l2r": ("l2r_blogs_en.jsonl", "l2r_reviews_messages_en.jsonl"),
    "katfish": ("katfish_essays_ko.jsonl", "nsmc_human_ko_1k.jsonl"),
}
DATASETS["both"] = DATASETS["l2r"] + DATASETS["katfish"]
HEADLINE = ("detector", "onnx_int8", "coreml_int4", "pruned", "pruned_onnx_int8", "baseline")
NSMC_DOMAIN = "naver-movie-review"


def user_rows(name: str) -> list[dict]:
    """One shared file's rows in the input contract: texts of one source (L2R) or topic (KatFish) share a group."""
    rows = [json.loads(line) for line in read_lines(SHARED_DATA / name) if line.strip()]
    for row in rows:
        row.pop("label_int", None)
        if row.get("pair_id") is not None:
            row["group"] = f"{name.split('_')[0]}-{row['pair_id']}"
    return rows


def write_user_data(data: str, target: Path) -> int:
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for name in DATASETS[data]:
        rows = user_rows(name)
        (target / name).write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
        count += len(rows)
    return count


def set_overrides(params: dict, overrides: Sequence[str]) -> dict:
    """`params` (params.yaml's raw dict) with each `dotted.key=VALUE` set in place (VALUE read as YAML)."""
    for override in overrides:
        dotted, value = override.split("=", 1)
        *parents, leaf = dotted.split(".")
        node = params
        for key in parents:
            node = node[key]
        node[leaf] = yaml.safe_load(value)
    return params


def apply_overrides(params_path: Path, overrides: list[str]) -> dict:
    params = yaml.safe_load(params_path.read_text())
    params["synth"]["multiplier"] = 0
    set_overrides(params, overrides)
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def run_pipeline(workdir: Path, targets: Sequence[str] = ()) -> float:
    """`dvc repro` (of `targets` and what they need; all stages when none) in a fresh git repo (DVCLive needs a
    commit); returns minutes.

    A `--keep` folder of an earlier run keeps its repo, so `dvc repro` there resumes: only stages whose code,
    params or data changed run again (committing its files again would put DVC's outputs in git).
    """
    git_commands = [] if (workdir / ".git").exists() else [
        ["init", "-q"], ["add", "-A"], ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "benchmark"]]
    for git_command in git_commands:
        subprocess.run(["git", *git_command], cwd=workdir, check=True)
    started = time.perf_counter()
    # the stages import the copied sources, not the checkout's (the venv's editable install): editing
    # the checkout during an hour-long run must not change the code that run measures
    env = python_env() | {"PYTHONPATH": str(workdir / "src")}
    subprocess.run([sys.executable, "-m", "dvc", "repro", *targets], cwd=workdir, check=True, env=env)
    return (time.perf_counter() - started) / 60


def detector_scores(workdir: Path) -> dict[str, list[dict]]:
    """The detector's P(AI) for every val and test text, with its label, domain and language.

    Saved beside the results (`scores_<data>.jsonl`) so threshold policies can be compared on
    them afterwards (`python -m benchmarks.thresholds`) without training again.
    """
    detector = Detector.load(workdir / "models/detector")
    scores = {}
    for part in ("val", "test"):
        records = load_file(workdir / f"data/split/{part}.jsonl")
        p_ai = probability_ai(detector.logits([record.text for record in records]))
        scores[part] = [{"split": part, "id": record.id, "label": record.label_int, "domain": record.domain,
                         "lang": record.lang, "p_ai": float(p)} for record, p in zip(records, p_ai, strict=True)]
    return scores


def detector_parts(workdir: Path, detector: Detector | None = None) -> dict:
    """Test ROC-AUC of the detector's encoder alone, its lexical branch alone, and the two fused (what ships).

    The fused logit margin is a * encoder + b * branch + c (`modeling.lexical.fuse`), each part read
    off the shipped model by `margin_parts`. `detector`: another one than the run's `models/detector`.
    """
    detector = detector or Detector.load(workdir / "models/detector")
    if detector.model.lexical is None:
        return {}
    records = load_file(workdir / "data/split/test.jsonl")
    labels = [record.label_int for record in records]
    encoder, branch = margin_parts(detector.model, detector.tokenizer, [record.text for record in records])
    return {name: round(float(roc_auc_score(labels, margin)), 6)
            for name, margin in (("encoder", encoder), ("lexical_branch", branch), ("fused", encoder + branch))}


def at_f1_threshold(scores: dict[str, list[dict]]) -> dict:
    """The detector's test metrics at the F1-optimal cut chosen on val (the original design's metrics).

    The pipeline ships the target-FPR threshold; accuracy and F1 at that strict cut are not what
    the design's "accuracy and F1 above 88%" measured, so the benchmark scores both cuts.
    """
    (val_labels, val_p), (test_labels, test_p) = (
        (np.array([row["label"] for row in scores[part]]), np.array([row["p_ai"] for row in scores[part]]))
        for part in ("val", "test"))
    return quality(test_labels, test_p, choose_threshold(val_labels, val_p))


def summary(workdir: Path, scores: dict[str, list[dict]]) -> dict:
    """The run's metrics, the human-review false-positive share, and the shipped threshold's recall gap."""
    metrics = json.loads((workdir / "metrics/eval.json").read_text())
    slices = json.loads((workdir / "metrics/slices.json").read_text())["detector"]
    variants = {name: value for name, value in metrics.items() if isinstance(value, dict)}
    detector = variants["detector"]
    result = {
        "test_size": metrics["test_size"],
        "variants": variants,
        "slices": slices,
        "train": json.loads((workdir / "metrics/train.json").read_text()),
        "pretrain": json.loads((workdir / "metrics/pretrain.json").read_text()),
        # at the shipped threshold: recall against the best recall the ROC curve allows at 1% FPR
        "shipped_tpr": round(1 - detector["false_negative_rate"], 6),
        "shipped_fpr": round(detector["false_positive_rate"], 6),
        "detector_at_f1_threshold": at_f1_threshold(scores),
        "detector_parts_test_roc_auc": detector_parts(workdir),
    }
    reviews = slices.get("domain", {}).get(NSMC_DOMAIN)
    if reviews:
        result["nsmc_human_reviews"] = reviews["count"]
        result["nsmc_human_labelled_ai"] = round(1 - reviews["accuracy"], 6)
    return result


def run_folder(benchmark: str, data: str, keep: Path | None) -> Path | None:
    """The folder a benchmark runs in (`keep`, or a new temporary one); None, said on stdout, without the data."""
    missing = [name for name in DATASETS[data] if not (SHARED_DATA / name).exists()]
    if missing:
        print(f"skipped: {', '.join(missing)} absent from {SHARED_DATA}")
        return None
    workdir = keep or Path(tempfile.mkdtemp(prefix=f"tinydetect-{benchmark}-{data}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def print_table(data: str, result: dict) -> None:
    print(f"\n{data}: {result['texts']} texts, test {result['test_size']}, dvc repro {result['minutes']:.1f} min")
    print(f"{'variant':<20}{'ROC-AUC':>8}{'F1':>7}{'acc':>7}{'TPR@5%':>8}{'TPR@1%':>8}{'FPR':>7}{'MB':>8}")
    for name in [*HEADLINE, *sorted(set(result["variants"]) - set(HEADLINE))]:
        m = result["variants"].get(name)
        if m:
            print(f"{name:<20}{m['roc_auc']:8.3f}{m['f1']:7.3f}{m['accuracy']:7.3f}{m['tpr_at_5pct_fpr']:8.3f}"
                  f"{m['tpr_at_1pct_fpr']:8.3f}{m['false_positive_rate']:7.3f}{m.get('size_mb') or float('nan'):8.2f}")
    for lang, m in sorted(result["slices"].get("lang", {}).items()):
        print(f"detector, {lang}: ROC-AUC {m['roc_auc']}, accuracy {m['accuracy']} ({m['count']} texts)")
    if "nsmc_human_labelled_ai" in result:
        print(f"human NSMC reviews labelled AI: {result['nsmc_human_labelled_ai']:.1%} of {result['nsmc_human_reviews']}")
    print(f"shipped threshold: TPR {result['shipped_tpr']:.3f}, FPR {result['shipped_fpr']:.3f}")
    f1_cut = result["detector_at_f1_threshold"]
    print(f"detector at the F1-optimal val threshold {f1_cut['threshold']:.3f}: F1 {f1_cut['f1']:.3f}, "
          f"accuracy {f1_cut['accuracy']:.3f}, FPR {f1_cut['false_positive_rate']:.3f}")
    parts = result.get("detector_parts_test_roc_auc")
    if parts:
        print("detector's parts, test ROC-AUC: " + ", ".join(f"{name} {value:.4f}" for name, value in parts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=sorted(DATASETS), default="l2r")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it; an earlier run's folder is resumed (default: a temporary one)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="params override, repeatable")
    parser.add_argument("--out", type=Path, help="results JSON (default: benchmarks/results/quality_<data>.json)")
    args = parser.parse_args()
    workdir = run_folder("quality", args.data, args.keep)
    if workdir is None:
        return
    source_commit = commit()  # what is copied now is what runs, whatever the tree holds when the run ends
    copy_sources(REPO_ROOT, workdir)
    texts = write_user_data(args.data, workdir / "data/real")
    params = apply_overrides(workdir / "params.yaml", args.set)
    minutes = run_pipeline(workdir)
    scores = detector_scores(workdir)
    result = {"data": args.data, "texts": texts, "minutes": round(minutes, 2), "commit": source_commit,
              "date": date.today().isoformat(), "overrides": args.set, "params": params,
              **summary(workdir, scores)}
    out = args.out or REPO_ROOT / f"benchmarks/results/quality_{args.data}.json"
    write_json(out, result)
    write_jsonl(out.with_name(out.name.replace("quality_", "scores_", 1)).with_suffix(".jsonl"),
                scores["val"] + scores["test"])
    print_table(args.data, result)
    if args.keep is None:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
