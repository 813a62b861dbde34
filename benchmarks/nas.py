"""Architecture search benchmark: the NAS stages on the L2R quality data, and what the searched detectors buy.

Copies the repo to a work folder with the L2R data of `benchmarks.quality` (synth off), then, by `dvc repro`:

1. `fixed`: the SuperNet, the latency predictor, the search and the Pareto plot, beside the hand-made detector,
   its pruned model and both ONNX INT8 exports (the stages the comparison needs; no Core ML, no eval);
2. `searched_at_pruned`: `model.source: searched` with `search.latency_ms` set to the pruned ONNX INT8 model's
   measured latency; train and export the searched detector;
3. `searched_at_half`: the same at half that latency.

Every model is scored on the same test split (ROC-AUC), and its ONNX INT8 graph timed as the latency stage times
sub-networks (1 thread, batch 1, the full input). Also reported: the latency predictor's error on held-out
sub-networks, and the best val score of evolutionary vs random search after the same number of evaluations.

    python -m benchmarks.nas [--keep DIR] [--set KEY=VALUE ...]

Writes `benchmarks/results/nas.json` (with the commit, the params and the date) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import roc_auc_score

from benchmarks import REPO_ROOT
from benchmarks._common import commit
from benchmarks.quality import apply_overrides, detector_parts, run_folder, run_pipeline, write_user_data
from tinydetect.core.files import write_json
from tinydetect.core.records import load_file
from tinydetect.evaluation.latency import time_calls
from tinydetect.modeling.model import Detector, count_parameters
from tinydetect.runtime.onnx_scorer import OnnxScorer, onnx_session
from tinydetect.testing.workspace import copy_sources

# the real settings (docs/nas.md); the demo's params.yaml keeps `make repro` short
REAL_SETTINGS = [
    "supernet.mlm_epochs=2", "supernet.epochs=10", "latency.samples=150", "latency.runs=50",
    "search.population=16", "search.generations=8",
]
TARGETS = {"fixed": ["pareto", "onnx@detector", "onnx@pruned"], "searched": ["onnx@detector"]}


def set_params(workdir: Path, **dotted: object) -> None:
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    for key, value in dotted.items():
        section, name = key.split("__")
        params[section][name] = value
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def int8_latency_ms(path: Path, runs: int = 200) -> float:
    """Median ms of one full-length text through an ONNX INT8 file, 1 thread, batch 1 (as `nas.latency.measure`)."""
    session = onnx_session(path, threads=1)
    shape = session.get_inputs()[0].shape
    ids = np.random.default_rng(0).integers(5, 1000, size=(1, shape[1]), dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    return float(np.median(time_calls(lambda _: session.run(None, feed), range(runs), warmup=10)))


def test_roc_auc(workdir: Path, scorer) -> float:
    records = load_file(workdir / "data/split/test.jsonl")
    labels = [record.label_int for record in records]
    return round(float(roc_auc_score(labels, scorer.probability_ai([record.text for record in records]))), 6)


def parts_roc_auc(workdir: Path, detector: Detector) -> dict[str, float]:
    """Test ROC-AUC of the encoder alone and of the lexical branch alone: the architecture only shapes the first."""
    parts = detector_parts(workdir, detector)
    return {f"{part}_test_roc_auc": parts[part] for part in ("encoder", "lexical_branch") if part in parts}


def score_models(workdir: Path, names: dict[str, str]) -> dict[str, dict]:
    """Test ROC-AUC (and ONNX INT8 latency) of the detector folders and ONNX files named."""
    rows = {}
    for name, relative in names.items():
        path = workdir / relative
        if path.suffix == ".onnx":
            rows[name] = {"test_roc_auc": test_roc_auc(workdir, OnnxScorer(path, threads=1)),
                          "latency_ms": round(int8_latency_ms(path), 4), "size_mb": round(path.stat().st_size / 1e6, 3)}
        else:
            detector = Detector.load(path)
            config = detector.model.config
            rows[name] = {"test_roc_auc": test_roc_auc(workdir, detector), **parts_roc_auc(workdir, detector),
                          "parameters": count_parameters(detector.model),
                          "shape": {"layers": config.num_hidden_layers, "hidden": config.hidden_size,
                                    "heads": getattr(config, "layer_heads", None), "ffn":
                                    getattr(config, "layer_intermediate_sizes", None)}}
    return rows


def search_summary(workdir: Path) -> dict:
    metrics = json.loads((workdir / "metrics/search.json").read_text())
    progress = pd.read_csv(workdir / "plots/search/progress.csv")
    return {**metrics, "curves": {column.removeprefix("best_val_roc_auc_"): progress[column].round(6).tolist()
                                  for column in progress.columns if column != "evaluated"}}


def snapshot(workdir: Path, name: str) -> Path:
    """Where a run's detector is copied before the next run retrains `models/detector` (`--rescore` reads it)."""
    return workdir.parent / f"{workdir.name}-{name}"


def rescore(workdir: Path) -> None:
    """Score the kept detectors again (the same test split) into the results, e.g. after a new column was added."""
    out = REPO_ROOT / "benchmarks/results/nas.json"
    result = json.loads(out.read_text())
    folders = {("fixed", "detector"): snapshot(workdir, "fixed-detector"), ("fixed", "pruned"): workdir / "models/pruned",
               **{(name, "detector"): snapshot(workdir, name) for name in ("searched_at_pruned", "searched_at_half")}}
    for (run, model), folder in folders.items():
        if run in result and folder.exists():
            result[run][model] |= parts_roc_auc(workdir, Detector.load(folder))
    write_json(out, result)
    print_table(result)


def run_searched(workdir: Path, name: str, budget_ms: float) -> dict:
    set_params(workdir, model__source="searched", search__latency_ms=round(budget_ms, 4))
    minutes = run_pipeline(workdir, TARGETS["searched"])
    scored = score_models(workdir, {"detector": "models/detector", "onnx_int8": "models/onnx/detector/model_int8.onnx"})
    shutil.copytree(workdir / "models/detector", snapshot(workdir, name), dirs_exist_ok=True)
    return {"budget_ms": round(budget_ms, 4), "minutes": round(minutes, 2), "search": search_summary(workdir),
            "train": json.loads((workdir / "metrics/train.json").read_text()), **scored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (default: a temporary one)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="params override, repeatable, after the real settings: " + " ".join(REAL_SETTINGS))
    parser.add_argument("--rescore", action="store_true", help="with --keep DIR of a finished run: score its kept "
                        "detectors again into benchmarks/results/nas.json (no training)")
    args = parser.parse_args()
    if args.rescore:
        rescore(args.keep)
        return
    workdir = run_folder("nas", "l2r", args.keep)
    if workdir is None:
        return
    source_commit = commit()
    copy_sources(REPO_ROOT, workdir)
    texts = write_user_data("l2r", workdir / "data/real")
    params = apply_overrides(workdir / "params.yaml", REAL_SETTINGS + args.set)
    # the latency stage first, while nothing else runs: it times sub-networks
    minutes = run_pipeline(workdir, ["latency"]) + run_pipeline(workdir, TARGETS["fixed"])
    shutil.copytree(workdir / "models/detector", snapshot(workdir, "fixed-detector"), dirs_exist_ok=True)
    fixed = score_models(workdir, {"detector": "models/detector", "pruned": "models/pruned",
                                   "onnx_int8": "models/onnx/detector/model_int8.onnx",
                                   "pruned_onnx_int8": "models/onnx/pruned/model_int8.onnx"})
    result = {
        "data": "l2r", "texts": texts, "commit": source_commit, "date": date.today().isoformat(),
        "overrides": REAL_SETTINGS + args.set, "params": params,
        "latency_predictor": json.loads((workdir / "metrics/latency.json").read_text()),
        "supernet": json.loads((workdir / "metrics/supernet.json").read_text()),
        "pareto": json.loads((workdir / "metrics/pareto.json").read_text()),
        "fixed": {"minutes": round(minutes, 2), "search": search_summary(workdir), **fixed},
    }
    write_json(REPO_ROOT / "benchmarks/results/nas.json", result)  # what is done so far survives a crash later
    pruned_ms = fixed["pruned_onnx_int8"]["latency_ms"]
    for name, budget in (("searched_at_pruned", pruned_ms), ("searched_at_half", pruned_ms / 2)):
        result[name] = run_searched(workdir, name, budget)
        write_json(REPO_ROOT / "benchmarks/results/nas.json", result)
    print_table(result)
    if args.keep is None:
        shutil.rmtree(workdir)


def print_table(result: dict) -> None:
    predictor = result["latency_predictor"]
    print(f"\nlatency predictor ({predictor['predictor']}): held-out MAPE {predictor['held_out_mape']:.1%} on "
          f"{predictor['held_out']} sub-networks (fitted on {predictor['fit']})")
    print(f"{'model':<34}{'test ROC-AUC':>13}{'INT8 ms':>9}{'budget ms':>10}")
    fixed = result["fixed"]
    print(f"{'hand-made detector (fp32)':<34}{fixed['detector']['test_roc_auc']:13.4f}"
          f"{fixed['onnx_int8']['latency_ms']:9.2f}{'':>10}")
    print(f"{'pruned, ONNX INT8':<34}{fixed['pruned_onnx_int8']['test_roc_auc']:13.4f}"
          f"{fixed['pruned_onnx_int8']['latency_ms']:9.2f}{'':>10}")
    for name in ("searched_at_pruned", "searched_at_half"):
        if name in result:
            row = result[name]
            print(f"{name + ', ONNX INT8':<34}{row['onnx_int8']['test_roc_auc']:13.4f}"
                  f"{row['onnx_int8']['latency_ms']:9.2f}{row['budget_ms']:10.2f}")
    for name in ("fixed", "searched_at_pruned", "searched_at_half"):
        if name in result:
            best = result[name]["search"]["best_val_roc_auc"]
            print(f"search under {result[name]['search']['latency_ms_budget']} ms: best val ROC-AUC evolutionary "
                  f"{best['evolutionary']:.4f}, random {best['random']:.4f}")


if __name__ == "__main__":
    main()
