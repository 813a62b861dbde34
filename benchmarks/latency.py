"""Latency, throughput, memory and size of every model variant, side by side.

For each variant in `tinydetect.runtime.variants.VARIANTS` (after `make repro`), in a fresh
subprocess so that peak memory is its own: one 128-token text at batch 1 (p50 and p95
over `--runs` timed runs after warm-up) on 1 thread and on 2 threads, and throughput at
batch 32. Tokenization is left out: every variant gets the same token ids. PyTorch fp32
(`detector`) is the reference, so every latency is also a speed-up ratio. Writes
`metrics/bench.json` and `plots/size_latency.png` (size vs latency, coloured by test
ROC-AUC from `metrics/eval.json`), and prints the table.

    python -m benchmarks.latency [--runs 200] [--only detector,onnx_int8] [--models-root .]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks import REPO_ROOT

THREADS = (1, 2)
THROUGHPUT_BATCH = 32


def token_batch(vocab_size: int, max_length: int, batch: int) -> dict[str, np.ndarray]:
    """Full-length inputs, the worst case: [CLS] + random pieces + [SEP], no padding."""
    ids = np.random.default_rng(0).integers(5, vocab_size, size=(batch, max_length), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 2, 3
    return {"input_ids": ids, "attention_mask": np.ones_like(ids)}


def forward(scorer):
    """A function running the bare model on a token batch, for a PyTorch or ONNX scorer."""
    if hasattr(scorer, "runner"):
        return lambda inputs: scorer.runner.run(["logits"], inputs)
    import torch

    def run(inputs):
        with torch.inference_mode():
            return scorer.model(**{name: torch.from_numpy(array) for name, array in inputs.items()}).logits

    return run


def time_runs(run, inputs, runs: int, warmup: int = 10) -> np.ndarray:
    """Milliseconds of `runs` calls on the same inputs, after `warmup` calls."""
    from tinydetect.evaluation.latency import time_calls

    return time_calls(run, [inputs] * max(runs, warmup), warmup=warmup)[-runs:]


def measure_one(path: str, runs: int) -> dict:
    """Everything for one variant, in this process (see `measure_in_subprocess`)."""
    import torch

    from tinydetect.runtime.scorers import load_scorer
    from tinydetect.runtime.variants import model_size_mb

    result = {"size_mb": round(model_size_mb(path), 3)}
    for threads in THREADS:
        torch.set_num_threads(threads)
        scorer = load_scorer(path, threads=threads)
        vocab, length = scorer.tokenizer.vocab_size, scorer.tokenizer.max_length
        timings = time_runs(forward(scorer), token_batch(vocab, length, 1), runs)
        result[f"p50_ms_{threads}t"] = round(float(np.percentile(timings, 50)), 3)
        result[f"p95_ms_{threads}t"] = round(float(np.percentile(timings, 95)), 3)
    if getattr(scorer, "batch_size", None) != 1:  # the fixed-shape graph takes one text at a time
        batch_ms = time_runs(forward(scorer), token_batch(vocab, length, THROUGHPUT_BATCH), max(3, runs // 20), warmup=2)
        result["texts_per_s_batch32_2t"] = round(THROUGHPUT_BATCH / (float(np.median(batch_ms)) / 1000), 1)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def measure_in_subprocess(path: Path, runs: int) -> dict:
    command = [sys.executable, "-m", "benchmarks.latency", "--one", str(path), "--runs", str(runs)]
    output = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def add_ratios(results: dict[str, dict], reference: str = "detector") -> None:
    base = results[reference]
    for row in results.values():
        for threads in THREADS:
            row[f"speedup_{threads}t"] = round(base[f"p50_ms_{threads}t"] / row[f"p50_ms_{threads}t"], 2)
        row["size_ratio"] = round(row["size_mb"] / base["size_mb"], 3)


def print_table(results: dict[str, dict]) -> None:
    header = f"{'variant':<20}{'MB':>8}{'p50 1t':>9}{'p95 1t':>9}{'x fp32':>8}{'p50 2t':>9}{'texts/s@32':>12}{'RSS MB':>9}"
    print(header)
    for name, row in results.items():
        print(f"{name:<20}{row['size_mb']:>8.2f}{row['p50_ms_1t']:>9.2f}{row['p95_ms_1t']:>9.2f}"
              f"{row['speedup_1t']:>8.2f}{row['p50_ms_2t']:>9.2f}{row.get('texts_per_s_batch32_2t', float('nan')):>12.1f}"
              f"{row['peak_rss_mb']:>9.0f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="timed runs per variant and thread count")
    parser.add_argument("--models-root", type=Path, default=REPO_ROOT, help="folder holding models/ (default: repo)")
    parser.add_argument("--out", type=Path, default=None, help="JSON to write (default: <models-root>/metrics/bench.json)")
    parser.add_argument("--plot", type=Path, default=None, help="PNG to write (default: <models-root>/plots/size_latency.png)")
    parser.add_argument("--only", help="comma-separated variant names (default: all)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one variant, print JSON
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(args.one, args.runs)))
        return

    from tinydetect.core.files import write_json
    from tinydetect.runtime.variants import VARIANTS

    root = args.models_root
    # Core ML packages run only on Apple hardware
    timeable = [v for v in VARIANTS if v.format != "coreml"]
    chosen = [v for v in timeable if not args.only or v.name in args.only.split(",")]
    missing = [v.path for v in chosen if not (root / v.path).exists()]
    if missing:
        sys.exit(f"error: {', '.join(missing)} missing under {root}; run `make repro` first")
    results = {}
    for variant in chosen:
        print(f"measuring {variant.name} ...", file=sys.stderr, flush=True)
        results[variant.name] = measure_in_subprocess(root / variant.path, args.runs)
    add_ratios(results)
    eval_path = root / "metrics/eval.json"
    evaluation = json.loads(eval_path.read_text()) if eval_path.exists() else {}
    for name, row in results.items():
        if name in evaluation:
            row["roc_auc"] = evaluation[name]["roc_auc"]
    write_json(args.out or root / "metrics/bench.json", {"runs": args.runs, "variants": results})
    plot = args.plot or root / "plots/size_latency.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    from tinydetect.evaluation.plots import size_latency_figure

    figure = size_latency_figure({n: r["size_mb"] for n, r in results.items()}, {n: r["p50_ms_1t"] for n, r in results.items()},
                                 {n: r.get("roc_auc", np.nan) for n, r in results.items()},
                                 "p50 latency, 1 text x 128 tokens, 1 thread (ms)")
    figure.savefig(plot, dpi=120, bbox_inches="tight")
    print_table(results)


if __name__ == "__main__":
    main()
