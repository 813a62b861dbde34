"""Benchmarks: each prints its table and writes it to benchmarks/results/<name>.json."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
