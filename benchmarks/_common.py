"""What several benchmarks share: the commit a result was measured on, and the latency timing helpers."""

from __future__ import annotations

import subprocess

import numpy as np

from benchmarks import REPO_ROOT

SHORT_LENGTH = 128  # tokens of the timed inputs: the fixed-shape graphs' length


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                           capture_output=True, text=True).stdout.strip()
    return head + ("+uncommitted" if dirty else "")


def token_batch(vocab_size: int, max_length: int, batch: int) -> dict[str, np.ndarray]:
    """Full-length inputs, the worst case: [CLS] + random pieces + [SEP], no padding."""
    ids = np.random.default_rng(0).integers(5, vocab_size, size=(batch, max_length), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 2, 3
    return {"input_ids": ids, "attention_mask": np.ones_like(ids)}


def time_runs(run, inputs, runs: int, warmup: int = 10) -> np.ndarray:
    """Milliseconds of `runs` calls on the same inputs, after `warmup` calls."""
    from tinydetect.evaluation.latency import time_calls

    return time_calls(run, [inputs] * max(runs, warmup), warmup=warmup)[-runs:]
