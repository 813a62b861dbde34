"""Synth throughput: the Gemini backend against the local server, 100 ms per reply, by worker count.

Sends `--requests` requests (fresh cache each time) at 1, 5, 10 and 20 workers through
`tinydetect.synth.generation.synthesize`, the real SDK and real HTTP, and prints wall time and the
speed-up over one worker. The client-side rate limit is lifted so that only concurrency
is measured.

    python -m benchmarks.synth_throughput [--requests 400] [--latency 0.1] [--workers 1,5,10,20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks import SHARED_DATA
from tinydetect.core.config import SynthConfig
from tinydetect.core.records import parse_record
from tinydetect.synth.backends import make_backend
from tinydetect.synth.calls import RequestCache
from tinydetect.synth.generation import synthesize
from tinydetect.testing.llm_server import LocalLLMServer, ServerState, load_rewrites


def human_records(count: int) -> list:
    return [
        parse_record({"id": f"b{i:04d}", "text": f"Benchmark text number {i} about rivers, trains and gardens.",
                      "label": "HUMAN"}, default_id="")
        for i in range(count)
    ]


def timed_run(server: LocalLLMServer, humans: list, workers: int) -> float:
    config = SynthConfig(
        backend="gemini", multiplier=1, workers=workers,
        gemini={"base_url": server.url, "requests_per_minute": 1e9, "tokens_per_minute": 1e12},
    )
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        result = synthesize(humans, config, make_backend(config, humans), seed=0, cache=RequestCache(Path(scratch) / "c.jsonl"))
        elapsed = time.perf_counter() - started
    assert result.stats.sent == len(humans), "every request must reach the server"
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the server waits before each reply")
    parser.add_argument("--workers", default="1,5,10,20", help="comma-separated worker counts")
    args = parser.parse_args(argv)
    os.environ.setdefault("GEMINI_API_KEY", "benchmark-key")  # the local server accepts any key
    humans = human_records(args.requests)
    with LocalLLMServer(ServerState(rewrites=load_rewrites(SHARED_DATA / "gemini_rewrite_pairs_en.jsonl"), latency_s=args.latency)) as server:
        timings = {int(w): timed_run(server, humans, int(w)) for w in args.workers.split(",")}
    base = next(iter(timings.values()))
    print(f"\n{args.requests} requests, {args.latency * 1000:.0f} ms server latency each")
    print(f"{'workers':>8} {'wall s':>8} {'req/s':>8} {'speed-up':>9}")
    for workers, seconds in timings.items():
        print(f"{workers:>8} {seconds:>8.2f} {args.requests / seconds:>8.1f} {base / seconds:>8.1f}x")


if __name__ == "__main__":
    main()
