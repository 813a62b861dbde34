"""Latency, throughput, memory and size of every model variant, side by side.

For each variant in `tinydetect.runtime.variants.VARIANTS` (after `make repro`), in a fresh
subprocess so that peak memory is its own:

- the bare model: one full-length text (the model's input length: 512 tokens for the lexical branch, of which BERT
  reads the first 128) at batch 1, p50 and p95 over `--runs` timed runs after warm-up, on 1 thread and on 2 threads,
  and throughput at batch 32; every variant gets the same token ids; and one 128-token text (p50, 1 and 2 threads)
  for every variant that takes any length (PyTorch, and ONNX graphs with `quantize.dynamic_length`);
- end to end, what a user feels: `probability_ai([text])` (tokenizer + model + softmax) for each of the real texts
  of `--texts` (default: a seeded sample of `--real-texts` texts each from ../shared's L2R and KatFish files), p50
  and p95 per corpus on 1 and 2 threads, and texts/s scoring all of them in batches of 32 on 2 threads.

PyTorch fp32 (`detector`) is the reference, so every latency is also a speed-up ratio. `--profile VARIANT` runs
ONNX Runtime's profiler on that variant over the real texts, one at a time on one thread: milliseconds per text by
operator type, and the tokenizer's share. `--levers` builds each latency lever from the trained models and times
it on its own row, with the tokenizer paths and Hugging Face Optimum's ONNX Runtime path as a peer on the same
encoder (`benchmarks/latency_levers.py`). Writes `benchmarks/results/latency.json` (with the commit) and
`plots/size_latency.png` (size vs latency, coloured by test ROC-AUC from `metrics/eval.json`), and prints the tables.

    python -m benchmarks.latency [--runs 200] [--only detector,onnx_int8] [--models-root .] [--profile pruned_onnx_int8]
                                 [--levers detector,pruned] [--no-optimum]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import REPO_ROOT, SHARED_DATA
from benchmarks._common import SHORT_LENGTH, commit, time_runs, token_batch

THREADS = (1, 2)
THROUGHPUT_BATCH = 32
# the benchmarks' real data (benchmarks/quality.py): English blogs, reviews, messages; Korean essays
REAL_TEXT_FILES = {"l2r": ("l2r_blogs_en.jsonl", "l2r_reviews_messages_en.jsonl"), "katfish": ("katfish_essays_ko.jsonl",)}


def real_texts(per_corpus: int, seed: int = 0) -> dict[str, list[str]]:
    """A seeded sample of each corpus' texts (human and AI alike), or nothing for a corpus whose files are absent."""
    texts = {}
    for corpus, names in REAL_TEXT_FILES.items():
        if all((SHARED_DATA / name).exists() for name in names):
            rows = [json.loads(line) for name in names for line in (SHARED_DATA / name).open(encoding="utf-8") if line.strip()]
            chosen = np.random.default_rng(seed).choice(len(rows), size=min(per_corpus, len(rows)), replace=False)
            texts[corpus] = [rows[index]["text"] for index in sorted(chosen)]
        else:
            print(f"skipped {corpus}: {', '.join(names)} not in {SHARED_DATA}", file=sys.stderr)
    return texts


def forward(scorer):
    """A function running the bare model on a token batch, for a PyTorch or ONNX scorer."""
    if hasattr(scorer, "runner"):
        return lambda inputs: scorer.runner.run(["logits"], inputs)
    import torch

    def run(inputs):
        with torch.inference_mode():
            return scorer.model(**{name: torch.from_numpy(array) for name, array in inputs.items()}).logits

    return run


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
        if takes_any_length(scorer):  # the figure: one 128-token text
            timings = time_runs(forward(scorer), token_batch(vocab, min(SHORT_LENGTH, length), 1), runs)
            result[f"p50_128_ms_{threads}t"] = round(float(np.percentile(timings, 50)), 3)
    if getattr(scorer, "batch_size", None) != 1:  # the fixed-shape graph takes one text at a time
        batch_ms = time_runs(forward(scorer), token_batch(vocab, length, THROUGHPUT_BATCH), max(3, runs // 20), warmup=2)
        result["texts_per_s_batch32_2t"] = round(THROUGHPUT_BATCH / (float(np.median(batch_ms)) / 1000), 1)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def takes_any_length(scorer) -> bool:
    """PyTorch models and ONNX graphs with a dynamic sequence axis (`quantize.dynamic_length`); not model_fixed.onnx."""
    return getattr(scorer, "pad_to_longest", True)


def scorer_of_one_text(scorer):
    return lambda text: scorer.probability_ai([text])


def measure_end_to_end(path: str, texts: dict[str, list[str]]) -> dict:
    """Tokenizer + model + softmax per real text, one at a time, by corpus and threads; batch-32 texts/s on 2."""
    import torch

    from tinydetect.evaluation.latency import time_calls
    from tinydetect.runtime.scorers import load_scorer

    result = {}
    for threads in THREADS:
        torch.set_num_threads(threads)
        scorer = load_scorer(path, threads=threads)
        score_one = scorer_of_one_text(scorer)
        for corpus, corpus_texts in texts.items():
            timings = time_calls(score_one, corpus_texts)
            result[f"e2e_{corpus}_p50_ms_{threads}t"] = round(float(np.percentile(timings, 50)), 3)
            result[f"e2e_{corpus}_p95_ms_{threads}t"] = round(float(np.percentile(timings, 95)), 3)
    every_text = [text for corpus_texts in texts.values() for text in corpus_texts]
    if every_text and getattr(scorer, "batch_size", None) != 1:
        started = time.perf_counter()
        for start in range(0, len(every_text), THROUGHPUT_BATCH):
            scorer.probability_ai(every_text[start : start + THROUGHPUT_BATCH])
        result["e2e_texts_per_s_batch32_2t"] = round(len(every_text) / (time.perf_counter() - started), 1)
    return result


def profile(path: str, texts: list[str]) -> dict:
    """ONNX Runtime's profiler over `texts`, one at a time, one thread: ms per text by operator type, and the
    tokenizer's ms per text (timed around it), each with its share of the total."""
    import onnxruntime

    from tinydetect.runtime.onnx_scorer import DISABLED_OPTIMIZERS, OnnxScorer

    scorer = OnnxScorer(path, threads=1)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.enable_profiling = 1, True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "ort")
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"],
                                           disabled_optimizers=DISABLED_OPTIMIZERS)  # as the scorer's session
    tokenizer_ms = 0.0
    for text in texts:
        started = time.perf_counter()
        features = scorer.tokenizer([text], scorer.pad_to_longest)
        tokenizer_ms += (time.perf_counter() - started) * 1000
        session.run(None, features)
    events = json.loads(Path(session.end_profiling()).read_text())
    by_operator: dict[str, float] = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            operator = event["args"]["op_name"]
            by_operator[operator] = by_operator.get(operator, 0.0) + event["dur"] / 1000
    total = sum(by_operator.values()) + tokenizer_ms
    rows = {"tokenizer": tokenizer_ms, **dict(sorted(by_operator.items(), key=lambda item: -item[1]))}
    return {"texts": len(texts), "ms_per_text": round(total / len(texts), 3),
            "by_operator": {name: {"ms_per_text": round(ms / len(texts), 3), "share": round(ms / total, 3)}
                            for name, ms in rows.items()}}


def measure_in_subprocess(path: Path, runs: int, texts_file: Path | None) -> dict:
    command = [sys.executable, "-m", "benchmarks.latency", "--one", str(path), "--runs", str(runs)]
    command += ["--texts", str(texts_file)] if texts_file else []
    output = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def add_ratios(results: dict[str, dict], reference: str = "detector") -> None:
    """Speed-up and size against PyTorch fp32, when it was measured (not with an --only that leaves it out)."""
    if reference not in results:
        return
    base = results[reference]
    for row in results.values():
        for threads in THREADS:
            row[f"speedup_{threads}t"] = round(base[f"p50_ms_{threads}t"] / row[f"p50_ms_{threads}t"], 2)
            if f"p50_128_ms_{threads}t" in row:
                row[f"speedup_128_{threads}t"] = round(base[f"p50_128_ms_{threads}t"] / row[f"p50_128_ms_{threads}t"], 2)
        row["size_ratio"] = round(row["size_mb"] / base["size_mb"], 3)


def print_table(results: dict[str, dict]) -> None:
    header = (f"{'variant':<20}{'MB':>8}{'128t 1t':>9}{'x fp32':>8}{'128t 2t':>9}"
              f"{'p50 1t':>9}{'p95 1t':>9}{'x fp32':>8}{'p50 2t':>9}{'texts/s@32':>12}{'RSS MB':>9}")
    print("bare model, batch 1: one 128-token text (128t), one 512-token text (p50/p95); ms")
    print(header)
    nan = float("nan")
    for name, row in results.items():
        print(f"{name:<20}{row['size_mb']:>8.2f}{row.get('p50_128_ms_1t', nan):>9.2f}{row.get('speedup_128_1t', nan):>8.2f}"
              f"{row.get('p50_128_ms_2t', nan):>9.2f}{row['p50_ms_1t']:>9.2f}{row['p95_ms_1t']:>9.2f}"
              f"{row.get('speedup_1t', float('nan')):>8.2f}{row['p50_ms_2t']:>9.2f}{row.get('texts_per_s_batch32_2t', float('nan')):>12.1f}"
              f"{row['peak_rss_mb']:>9.0f}")


def print_end_to_end(results: dict[str, dict]) -> None:
    columns = sorted({key for row in results.values() for key in row if key.startswith("e2e_") and "_p50_" in key})
    if not columns:
        return
    print("\nend to end (tokenizer + model + softmax), real texts one at a time, p50 ms; texts/s in batches of 32, 2 threads")
    print(f"{'variant':<20}" + "".join(f"{column.removeprefix('e2e_').replace('_p50_ms', ''):>14}" for column in columns)
          + f"{'texts/s@32':>12}")
    for name, row in results.items():
        print(f"{name:<20}" + "".join(f"{row.get(column, float('nan')):>14.2f}" for column in columns)
              + f"{row.get('e2e_texts_per_s_batch32_2t', float('nan')):>12.1f}")


def print_profile(name: str, found: dict) -> None:
    print(f"\nprofile of {name}: {found['ms_per_text']} ms a text, one thread, over {found['texts']} real texts")
    for operator, row in list(found["by_operator"].items())[:12]:
        print(f"  {operator:<28}{row['ms_per_text']:>8.3f} ms{100 * row['share']:>7.1f} %")


def print_levers(report: dict) -> None:
    for source, rows in report.get("levers", {}).items():
        print(f"\nlevers on {source} (ONNX INT8, 1 thread): 128-token text p50, end to end on the real texts p50/p95, "
              "test ROC-AUC")
        for name, row in rows.items():
            print(f"  {name:<22}{row['p50_ms_128']:>8.2f} ms{row.get('e2e_p50_ms', float('nan')):>8.2f} /"
                  f"{row.get('e2e_p95_ms', float('nan')):>6.2f} ms{row['test_roc_auc']:>9.4f}")
    for name, row in report.get("tokenizer", {}).items():
        print(f"  tokenizer {name:<18}{row['p50_ms']:>8.3f} ms p50{row['p95_ms']:>8.3f} ms p95"
              + (f"  identical ids: {row['identical_ids']}" if "identical_ids" in row else ""))
    peer = report.get("optimum", {})
    if peer:
        print("\nOptimum vs ours, the same encoder-only model (no lexical branch), ONNX, 1 thread")
        for name, row in peer.items():
            if name != "optimum_notes":
                print(f"  {name:<22}{row['p50_ms_128']:>8.2f} ms{row.get('e2e_p50_ms', float('nan')):>8.2f} /"
                      f"{row.get('e2e_p95_ms', float('nan')):>6.2f} ms{row['test_roc_auc']:>9.4f}")
        print("  " + "; ".join(peer["optimum_notes"]))


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="timed runs per variant and thread count")
    parser.add_argument("--models-root", type=Path, default=REPO_ROOT, help="folder holding models/ (default: repo)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks/results/latency.json",
                        help="JSON to write (default: %(default)s)")
    parser.add_argument("--plot", type=Path, default=None, help="PNG to write (default: <models-root>/plots/size_latency.png)")
    parser.add_argument("--only", help="comma-separated variant names (default: all)")
    parser.add_argument("--real-texts", type=int, default=150, help="texts per corpus for the end-to-end rows (0: none)")
    parser.add_argument("--texts", type=Path, help='JSON {"corpus": [texts]} instead of the ../shared sample')
    parser.add_argument("--profile", help="a variant to profile with ONNX Runtime's profiler (e.g. pruned_onnx_int8)")
    parser.add_argument("--levers", default="detector,pruned",
                        help="source models to build and time each latency lever on (benchmarks/latency_levers.py); "
                        "'' for none (default: %(default)s)")
    parser.add_argument("--no-optimum", action="store_true",
                        help="skip Hugging Face Optimum's peer (it makes .venv-optimum, about 40 s the first time)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one variant, print JSON
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    texts = json.loads(args.texts.read_text()) if args.texts else None
    if args.one:
        print(json.dumps({**measure_one(args.one, args.runs), **(measure_end_to_end(args.one, texts) if texts else {})}))
        return

    from tinydetect.core.files import write_json
    from tinydetect.runtime.variants import VARIANTS, variant_named

    root = args.models_root
    # Core ML packages run only on Apple hardware
    timeable = [v for v in VARIANTS if v.format != "coreml"]
    chosen = [v for v in timeable if not args.only or v.name in args.only.split(",")]
    missing = [v.path for v in chosen if not (root / v.path).exists()]
    if missing:
        sys.exit(f"error: {', '.join(missing)} missing under {root}; run `make repro` first")
    code = commit()
    texts = texts or (real_texts(args.real_texts) if args.real_texts else {})
    texts_file = Path(tempfile.mkdtemp()) / "texts.json"
    texts_file.write_text(json.dumps(texts))
    results = {}
    for variant in chosen:
        print(f"measuring {variant.name} ...", file=sys.stderr, flush=True)
        results[variant.name] = measure_in_subprocess(root / variant.path, args.runs, texts_file if texts else None)
    add_ratios(results)
    eval_path = root / "metrics/eval.json"
    evaluation = json.loads(eval_path.read_text()) if eval_path.exists() else {}
    for name, row in results.items():
        if name in evaluation:
            row["roc_auc"] = evaluation[name]["roc_auc"]
    report = {"commit": code, "runs": args.runs, "real_texts": {corpus: len(found) for corpus, found in texts.items()},
              "variants": results}
    if args.profile:
        every_text = [text for corpus_texts in texts.values() for text in corpus_texts]
        report["profile"] = {args.profile: profile(str(root / variant_named(args.profile).path), every_text)}
    add_levers(report, args, root, [text for corpus_texts in texts.values() for text in corpus_texts])
    write_json(args.out, report)
    plot = args.plot or root / "plots/size_latency.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    from tinydetect.evaluation.plots import size_latency_figure

    figure = size_latency_figure({n: r["size_mb"] for n, r in results.items()}, {n: r["p50_ms_1t"] for n, r in results.items()},
                                 {n: r.get("roc_auc", np.nan) for n, r in results.items()},
                                 "p50 latency, 1 full-length text, 1 thread (ms)")
    figure.savefig(plot, dpi=120, bbox_inches="tight")
    print_table(results)
    print_end_to_end(results)
    for name, found in report.get("profile", {}).items():
        print_profile(name, found)
    print_levers(report)


def add_levers(report: dict, args: argparse.Namespace, root: Path, texts: list[str]) -> None:
    """Each latency lever on its own row, the tokenizer paths, and Optimum's peer (benchmarks/latency_levers.py)."""
    from benchmarks import latency_levers

    sources = [source for source in args.levers.split(",") if source]
    if sources:
        report["levers"] = {source: latency_levers.lever_rows(source, root, texts, args.runs) for source in sources}
        report["tokenizer"] = latency_levers.tokenizer_rows(root, texts)
    if not args.no_optimum:
        report["optimum"] = latency_levers.optimum_rows(root, texts, args.runs)


if __name__ == "__main__":
    main()
