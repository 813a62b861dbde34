"""Triton under load: `tinydetect serve` on loopback, tritonclient HTTP and gRPC, against `tinydetect predict`.

1. `tinydetect predict` over the texts (the demo's test split, real lengths), timed: texts/s, and its scores; the bare
   ONNX Runtime session's ms per text at batch 1, 8 and 32 on 1 and 2 threads (what batching can save at most).
2. Load: for one-at-a-time serving (max batch size 1) and dynamic batching (params' serve section), each protocol
   and 1, 8, 32 and 128 concurrent clients (threads, one client each, one text per request, closed loop), bounded by
   --requests and --seconds per cell: texts/s, p50/p95/p99 latency, failed requests, the largest score difference
   from predict's, and Triton's executions per request (its metrics endpoint: below 1 means batches formed).
3. Faults, on the dynamic-batching server: clients that send a request and disconnect before the answer; a burst
   of bad texts (empty, not UTF-8, over the size limit, a wrong tensor name) among good ones; a server restart
   (Ctrl-C, start again on the same ports) while clients keep sending, retrying only when nothing listens. Every good
   request must be answered, right.

Writes `benchmarks/results/serve.json` with the commit and the serve params it ran on. Run after `make repro`:

    python -m benchmarks.serve [--requests 600] [--seconds 20] [--concurrency 1,8,32,128]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from tritonclient.utils import InferenceServerException

from benchmarks import REPO_ROOT
from benchmarks._common import commit
from tinydetect.core.config import load_params
from tinydetect.core.files import iter_jsonl, write_json
from tinydetect.core.records import load_file
from tinydetect.modeling.detector_folder import read_threshold
from tinydetect.runtime.onnx_scorer import OnnxScorer
from tinydetect.serving import client as triton
from tinydetect.serving.process import ServerProcess, launch
from tinydetect.serving.repository import served_variant

RESULTS = REPO_ROOT / "benchmarks/results/serve.json"


@dataclass
class Expected:
    """What `tinydetect predict` said about each text, and the cut its label used."""

    texts: list[str]
    p_ai: np.ndarray
    labels: list[str]
    cut: np.ndarray


def predict_baseline(model: str, texts: list[str], folder: Path) -> tuple[dict, Expected]:
    """`tinydetect predict` over the texts: wall time (process start included), its p_ai and label per text."""
    source = folder / "texts.jsonl"
    source.write_text("".join(json.dumps({"id": str(n), "text": text}) + "\n" for n, text in enumerate(texts)))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tinydetect", "predict", "--model", model, str(source), "--output",
                    str(folder / "predicted.jsonl")], check=True, capture_output=True)
    seconds = time.perf_counter() - started
    rows = [row for _, row in iter_jsonl(folder / "predicted.jsonl")]
    timing = {"texts": len(texts), "seconds": round(seconds, 2), "texts_per_s": round(len(texts) / seconds, 1)}
    cut = read_threshold(Path(model).parent).for_texts(texts)
    return timing, Expected(texts, np.array([row["p_ai"] for row in rows]), [row["label"] for row in rows], cut)


def model_compute(model: str, texts: list[str], seconds: float = 2.0) -> dict:
    """The bare ONNX Runtime session, no server: ms per text at batch 1, 8 and 32 on 1 and 2 threads; the tokenizer."""
    timings = {}
    for threads in (1, 2):
        scorer = OnnxScorer(model, threads=threads)
        features = scorer.tokenizer(texts[:32])
        for batch in (1, 8, 32):
            feeds = {name: values[:batch] for name, values in features.items()}
            scorer.runner.run(None, feeds)  # warm-up
            started, scored = time.perf_counter(), 0
            while time.perf_counter() - started < seconds:
                scorer.runner.run(None, feeds)
                scored += batch
            timings[f"threads_{threads}_batch_{batch}_ms_per_text"] = round((time.perf_counter() - started) / scored * 1000, 2)
    started = time.perf_counter()
    scorer.tokenizer(texts)
    timings["tokenizer_ms_per_text"] = round((time.perf_counter() - started) / len(texts) * 1000, 3)
    return timings


def load_cell(server: ServerProcess, protocol: str, concurrency: int, expected: Expected, requests: int,
              seconds: float) -> dict:
    """`concurrency` closed-loop clients until `requests` are sent or `seconds` pass."""
    texts = expected.texts
    url = server.url(protocol)
    counter, lock, deadline = iter(range(requests)), threading.Lock(), time.perf_counter() + seconds
    latencies, failures, differences, wrong = [], [], [], []

    def client_loop() -> None:
        with closing(triton.connect(protocol, url)) as client:  # closed in its own thread: gevent's hub is per thread
            send_until_done(client)

    def send_until_done(client) -> None:
        while time.perf_counter() < deadline:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            index = number % len(texts)
            sent = time.perf_counter()
            try:
                p_ai, [label] = triton.score(client, [texts[index]])
            except InferenceServerException as error:
                failures.append(str(error)[:200])
                continue
            latencies.append(time.perf_counter() - sent)
            differences.append(abs(float(p_ai[0]) - expected.p_ai[index]))
            wrong.append(not is_right(float(p_ai[0]), label, index, expected))

    executions_before = executions(server)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(client_loop) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - started
    done = len(latencies)
    milliseconds = np.array(latencies) * 1000
    return {
        "protocol": protocol, "concurrency": concurrency, "requests": done + len(failures), "failed": len(failures),
        "texts_per_s": round(done / wall, 1),
        **{f"p{q}_ms": round(float(np.percentile(milliseconds, q)), 2) for q in (50, 95, 99)},
        "executions_per_request": round((executions(server) - executions_before) / max(done + len(failures), 1), 3),
        "max_abs_diff_vs_predict": float(max(differences, default=0.0)), "wrong": sum(wrong),
        "failures": failures[:3],
    }


def executions(server: ServerProcess) -> int:
    status, metrics = server.get("/metrics", server.metrics_port)
    for line in metrics.splitlines() if status == 200 else []:
        if line.startswith('nv_inference_exec_count{model="tinydetect"'):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def disconnecting_clients(server: ServerProcess, texts: list[str], count: int) -> int:
    """Raw HTTP requests whose sender hangs up right after sending: how many were sent."""
    body = json.dumps({"inputs": [{"name": "text", "shape": [1, 1], "datatype": "BYTES", "data": [texts[0]]}]})
    request = (f"POST /v2/models/tinydetect/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body.encode())}\r\n\r\n{body}").encode()
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", server.http_port)) as connection:
            connection.sendall(request)
    return count


# INT8 variants quantize activations dynamically, per model call (one scale for every text in it): a text's score
# moves a little with the texts it is batched with (each cell's max_abs_diff_vs_predict says how much), in
# `tinydetect predict` (batches of 64) as in the server. An answer is right when its p_ai is within TOLERANCE of
# predict's and its label is predict's, unless predict's p_ai is within TOLERANCE of the cut (either label is then
# what batching alone can give).
TOLERANCE = 0.01


def is_right(p_ai: float, label: str, index: int, expected: Expected) -> bool:
    close = abs(p_ai - expected.p_ai[index]) <= TOLERANCE
    on_the_fence = abs(expected.p_ai[index] - expected.cut[index]) <= TOLERANCE
    return close and (label == expected.labels[index] or on_the_fence)


def never_reached_the_server(error: InferenceServerException) -> bool:
    """gRPC could not connect (nothing listens, or the old server is closing): safe to send again."""
    return error.status() == "StatusCode.UNAVAILABLE" or "failed to connect" in error.message()


def good_requests_answered(server: ServerProcess, expected: Expected, count: int, during: Callable[[], object] | None = None, concurrency: int = 8) -> dict:
    """`count` good requests from `concurrency` clients while `during` runs. A client sends a request again only when
    it never reached a server or while none is ready (a restart), never after an answer. Lost: no answer; wrong: not
    predict's answer."""
    retries, errors = [0], set()

    def one(number: int) -> str:
        index = number % len(expected.texts)
        for _ in range(600):
            try:
                with closing(triton.connect("grpc", server.grpc_url)) as client:
                    p_ai, [label] = triton.score(client, [expected.texts[index]])
                return "right" if is_right(float(p_ai[0]), label, index, expected) else "wrong"
            except InferenceServerException as error:
                if server.ready() and not never_reached_the_server(error):
                    errors.add(error.message()[:160])
                    return "error"
                retries[0] += 1
                time.sleep(0.1)
        return "lost"

    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(one, number) for number in range(count)]
        side = during() if during else None
        results = [future.result() for future in futures]
    return {"good_requests": count, "right": results.count("right"), "wrong": results.count("wrong"),
            "lost": count - results.count("right") - results.count("wrong"), "retries_while_not_ready": retries[0],
            "errors": sorted(errors), **({"side": side} if side is not None else {})}


BAD_TEXTS = {"empty": b"", "not UTF-8": b"\xc3\x28 broken", "over the size limit": b"x" * 1_000_000}


def bad_burst(server: ServerProcess, expected: Expected, count: int) -> dict:
    """`count` requests, every other one bad (cycling through the kinds, and a wrong tensor name), concurrently."""
    kinds = [*BAD_TEXTS, "wrong tensor name"]

    def one(number: int) -> str:
        with closing(triton.connect("http", server.http_url)) as client:
            return good_or_bad(client, number)

    def good_or_bad(client, number: int) -> str:
        if number % 2 == 0:
            index = number % len(expected.texts)
            p_ai, [label] = triton.score(client, [expected.texts[index]])
            return "right" if is_right(float(p_ai[0]), label, index, expected) else "wrong"
        kind = kinds[(number // 2) % len(kinds)]
        try:
            if kind == "wrong tensor name":
                client.infer("tinydetect", [triton.text_input(client, ["fine"], name="texts")])
            else:
                triton.score(client, [BAD_TEXTS[kind]])
        except InferenceServerException as error:
            return f"refused {error.status()}"
        return "accepted"

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(count)))
    good, bad = answers[::2], answers[1::2]
    return {"good": len(good), "good_right": good.count("right"), "bad": len(bad),
            "bad_refused_400": bad.count("refused 400"), "bad_other": sorted(set(bad) - {"refused 400"})}


def restart(server: ServerProcess, model: str, log: Path, flags: list[str]) -> Callable[[], dict]:
    """Ctrl-C the server once clients are busy, then start it again on the same ports."""
    def run() -> dict:
        time.sleep(1.0)
        stopped = time.perf_counter()
        server.stop()
        new = launch(model, log, *flags, ports=(server.http_port, server.grpc_port, server.metrics_port))
        server.process = new.process
        return {"down_s": round(time.perf_counter() - stopped, 1)}
    return run


def fault_run(server: ServerProcess, model: str, expected: Expected, log: Path) -> dict:
    faults = {"disconnects": good_requests_answered(server, expected, 200,
                                                    lambda: disconnecting_clients(server, expected.texts, 50))}
    faults["bad_burst"] = bad_burst(server, expected, 200)
    faults["restart"] = good_requests_answered(server, expected, 400, restart(server, model, log, []))
    faults["ready_after"] = server.ready()
    return faults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600, help="most requests per load cell")
    parser.add_argument("--seconds", type=float, default=20, help="most seconds per load cell")
    parser.add_argument("--concurrency", default="1,8,32,128")
    parser.add_argument("--protocols", default="http,grpc")
    args = parser.parse_args()
    config = load_params("serve")["serve"]
    model = served_variant(config).path
    texts = [record.text for record in load_file("data/split/test.jsonl")]
    code = commit()
    result = {"commit": code, "date": date.today().isoformat(), "model": model, "serve_params": config.model_dump(),
              "texts": len(texts), "load": {}, "faults": {}}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        result["predict"], expected = predict_baseline(model, texts, folder)
        print(f"tinydetect predict: {result['predict']}", flush=True)
        result["model_compute"] = model_compute(model, texts)
        print(f"the bare model: {result['model_compute']}", flush=True)
        settings = {"one_at_a_time": ["--max-batch-size", "1"], "dynamic_batching": []}
        for name, flags in settings.items():
            server = launch(model, folder / f"{name}.log", *flags)
            try:
                result["load"][name] = [
                    load_cell(server, protocol, int(concurrency), expected, args.requests, args.seconds)
                    for protocol in args.protocols.split(",") for concurrency in args.concurrency.split(",")]
                for cell in result["load"][name]:
                    print(name, {k: v for k, v in cell.items() if k != "failures"}, flush=True)
                if name == "dynamic_batching":
                    result["faults"] = fault_run(server, model, expected, folder / "restart.log")
                    print("faults", result["faults"], flush=True)
            finally:
                server.stop()
    write_json(RESULTS, result)
    print_table(result)


def print_table(result: dict) -> None:
    print(f"\n{result['model']}, {result['texts']} test texts; predict: {result['predict']['texts_per_s']} texts/s")
    print(f"{'serving':<18}{'proto':<6}{'clients':>8}{'texts/s':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
          f"{'failed':>7}{'wrong':>6}{'exec/req':>9}")
    for name, cells in result["load"].items():
        for cell in cells:
            print(f"{name:<18}{cell['protocol']:<6}{cell['concurrency']:>8}{cell['texts_per_s']:>9}{cell['p50_ms']:>8}"
                  f"{cell['p95_ms']:>8}{cell['p99_ms']:>8}{cell['failed']:>7}{cell['wrong']:>6}"
                  f"{cell['executions_per_request']:>9}")


if __name__ == "__main__":
    main()
