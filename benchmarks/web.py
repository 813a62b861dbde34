"""The detector in a web page, measured in headless Chromium (Debian's, through Playwright), on the `web` stage's assets.

1. Latency: p50 / p90 of one 128-token text, tokenizer + backbone + head, in the page on ONNX Runtime Web's
   WebAssembly backend with 1 thread and with every core (cross-origin isolated), beside the same assets on native ONNX
   Runtime (Python, 1 thread) for scale, and the page on an fp32 backbone of the same model (1 thread).
2. Page weight: every file the page downloads to score a text (recorded from the browser's network log), raw and as a
   server's gzip (level 6) sends it; the budget is 8 MB.
3. Training on feedback: for each data set and each of --draws random draws, 20 corrected texts per label marked in the
   page and "train on feedback" run (Adam on the head, params' web.feedback); accuracy on other texts of that data set
   (up to --held-out per label) before and after, the loss per epoch, ms per epoch in the page; convergence read off
   the NumPy twin of the page's training (tinydetect.web.head, the same weights: tests/test_web_browser.py) given
   LONGER_EPOCHS epochs instead (its rate then falls over those): the held-out accuracy and the feedback's loss
   after each, and the share of the longest run's accuracy gain that the page's epochs reach.
4. A federated round: `tinydetect federated server` with 5 clients (3 pages, 2 Python clients through Flower), each
   with 20 texts per label of its own and 10 per label held out; bytes each client sent (the INT8 delta with its framing), accuracy of the
   starting and the new global head on the union of the clients' held-out texts.

Data: L2R blogs (English) and KatFish essays + NSMC reviews (Korean) from ../shared/data. Writes
`benchmarks/results/web.json` with the commit and the web params it ran on, and a screenshot of the page after
training (`benchmarks/results/web_page.png`). Run after `make repro` and `make web-page`:

    python -m benchmarks.web [--draws 5] [--held-out 100] [--runs 50]
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from benchmarks import REPO_ROOT
from benchmarks._common import commit
from benchmarks.quality import user_rows
from tinydetect.core.config import load_params
from tinydetect.core.files import write_json, write_jsonl
from tinydetect.core.records import load_file
from tinydetect.federated.process import TEST_TOKEN, get_json, launch_client, launch_server
from tinydetect.serving.process import interrupt
from tinydetect.web.browser import launch_chromium, open_page
from tinydetect.web.head import Head, train_head
from tinydetect.web.http import start_page_server
from tinydetect.web.scorer import WebScorer

RESULTS = REPO_ROOT / "benchmarks/results/web.json"
SCREENSHOT = REPO_ROOT / "benchmarks/results/web_page.png"
MODEL = REPO_ROOT / "web/public/model"
PAGE = REPO_ROOT / "web/dist"
PER_LABEL = 20
LONGER_EPOCHS = (20, 60)  # the twin trained this long, to see what the page's 5 epochs leave on the table
TOKENS = 128
DATASETS = {  # name: (files, the language's human texts where the AI file has few)
    "l2r_blogs_en": ["l2r_blogs_en.jsonl"],
    "katfish_ko": ["katfish_essays_ko.jsonl", "nsmc_human_ko_1k.jsonl"],
}


def labelled_texts(name: str) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {"HUMAN": [], "AI": []}
    for file in DATASETS[name]:
        for row in user_rows(file):
            if row.get("label") in texts and row["text"].strip():
                texts[row["label"]].append(row["text"])
    return texts


def text_of_tokens(scorer: WebScorer, texts: list[str], tokens: int) -> str:
    """The first text cut to exactly `tokens` ids ([CLS] and [SEP] included)."""
    for text in texts:
        encoding = scorer.tokenizer.encode(text)
        if len(encoding.ids) > tokens:
            cut = text[:encoding.offsets[tokens - 2][1]]
            if len(scorer.ids(cut)) == tokens:
                return cut
    raise SystemExit(f"no text of {tokens} tokens found")


def latency(browser, url: str, scorer: WebScorer, text: str, runs: int) -> dict:
    rows = {}
    for threads in (1, 0):  # 0: the page's default, every core when cross-origin isolated
        page = open_page(browser.new_context(), f"{url}?threads={threads}" if threads else url)
        info = page.evaluate("window.tinydetect.info()")
        assert len(page.evaluate("(t) => window.tinydetect.ids(t)", [text])[0]) == TOKENS
        page.evaluate("(t) => window.tinydetect.score(t)", [text] * 5)  # warm-up
        times = [score["ms"] for score in page.evaluate("(t) => window.tinydetect.score(t)", [text] * runs)]
        rows[f"wasm_{info['threads']}_threads"] = {"p50_ms": round(float(np.median(times)), 2),
                                                   "p90_ms": round(float(np.percentile(times, 90)), 2),
                                                   "threads": info["threads"], "backend": info["backend"]}
        page.context.close()
    native = []
    for _ in range(runs + 5):
        started = time.perf_counter()
        scorer.probability_ai([text])
        native.append((time.perf_counter() - started) * 1000)
    rows["native_onnxruntime_1_thread"] = {"p50_ms": round(float(np.median(native[5:])), 2),
                                           "p90_ms": round(float(np.percentile(native[5:], 90)), 2)}
    return rows


def fp32_latency(browser, text: str, runs: int, scratch: Path) -> dict:
    """The same page on an fp32 backbone of the same source, 1 thread: what INT8 buys in WebAssembly, and costs."""
    from tinydetect.modeling.model import Detector
    from tinydetect.runtime.variants import variant_named
    from tinydetect.web.assets import write_assets

    settings = load_params("web", "quantize")
    folder = scratch / "fp32"
    train_texts = [record.text for record in load_file(REPO_ROOT / "data/split/train.jsonl")]
    write_assets(Detector.load(variant_named(settings["web"].source).path), folder, "fp32",
                 settings["quantize"].fuse_skip_layer_norm, train_texts, settings["web"])
    server = start_page_server(PAGE, folder)
    page = open_page(browser.new_context(), f"http://127.0.0.1:{server.server_port}/index.html?threads=1")
    page.evaluate("(t) => window.tinydetect.score(t)", [text] * 5)
    times = [score["ms"] for score in page.evaluate("(t) => window.tinydetect.score(t)", [text] * runs)]
    page.context.close()
    server.shutdown()
    backbone = (folder / "backbone.onnx").read_bytes()
    return {"p50_ms": round(float(np.median(times)), 2), "p90_ms": round(float(np.percentile(times, 90)), 2),
            "backbone_gzip_mb": round(len(gzip.compress(backbone, compresslevel=6, mtime=0)) / 1e6, 3)}


def page_weight(browser, url: str) -> dict:
    """Every file the page fetched to load and score one text, raw and gzip-6, by the file on disk it came from."""
    page = browser.new_context().new_page()
    fetched = []
    page.on("response", lambda response: fetched.append(urlparse(response.url).path))
    page.goto(url)
    page.evaluate("window.tinydetect.ready")
    page.evaluate("window.tinydetect.score(['one text'])")
    files = {}
    for path in dict.fromkeys(fetched):
        local = MODEL / Path(path).name if path.startswith("/model/") else PAGE / (path.lstrip("/") or "index.html")
        if local.is_file():
            data = local.read_bytes()
            files[path] = {"bytes": len(data), "gzip_bytes": len(gzip.compress(data, compresslevel=6, mtime=0))}
    page.context.close()
    total = sum(f["gzip_bytes"] for f in files.values())
    return {"files": files, "total_mb": round(sum(f["bytes"] for f in files.values()) / 1e6, 3),
            "total_gzip_mb": round(total / 1e6, 3), "budget_mb": 8.0, "within_budget": total / 1e6 <= 8.0}


def draw(texts: dict[str, list[str]], rng: np.random.Generator, per_label: int, held_out: int):
    """`per_label` feedback texts per label and up to `held_out` others per label, at random."""
    feedback, others = [], []
    for label, pool in texts.items():
        order = rng.permutation(len(pool))
        feedback += [{"text": pool[i], "label": label} for i in order[:per_label]]
        others += [{"text": pool[i], "label": label} for i in order[per_label:per_label + held_out]]
    return feedback, others


def page_accuracy(page, items: list[dict]) -> float:
    scores = page.evaluate("(t) => window.tinydetect.score(t)", [item["text"] for item in items])
    return float(np.mean([score["label"] == item["label"] for score, item in zip(scores, items, strict=True)]))


def convergence(start: Head, feedback: tuple, held_out: tuple, settings: dict) -> dict:
    """The NumPy twin of the page's training given the settings' epochs and LONGER_EPOCHS: held-out accuracy and the
    feedback's final loss after each. Training ends where its rate reaches zero, so each length is its own run."""
    runs = {}
    for epochs in (settings["epochs"], *LONGER_EPOCHS):
        head, losses = train_head(start, *feedback, epochs=epochs, learning_rate=settings["learning_rate"],
                                  batch_size=settings["batch_size"])
        runs[epochs] = {"accuracy": round(head.accuracy(*held_out), 4), "loss": round(losses[-1], 4)}
    return {"twin_by_epochs": runs}


def examples(scorer: WebScorer, items: list[dict]) -> tuple[np.ndarray, list[int], np.ndarray]:
    texts = [item["text"] for item in items]
    return scorer.embeddings(texts), [int(item["label"] == "AI") for item in items], scorer.threshold.for_texts(texts)


def feedback_training(browser, url: str, name: str, draws: int, held_out: int, settings: dict) -> dict:
    texts, rows, scorer = labelled_texts(name), [], WebScorer(MODEL)
    for seed in range(draws):
        feedback, others = draw(texts, np.random.default_rng(seed), PER_LABEL, held_out)
        page = open_page(browser.new_context(), url)
        before = page_accuracy(page, others)
        page.evaluate("(items) => window.tinydetect.mark(items)", feedback)
        report = page.evaluate("window.tinydetect.train()")
        after = page_accuracy(page, others)
        rows.append({"seed": seed, "accuracy_before": round(before, 4), "accuracy_after": round(after, 4),
                     "losses": [round(loss, 4) for loss in report["losses"]],
                     "ms_per_epoch": round(float(np.mean(report["epochMs"])), 3),
                     **convergence(scorer.head, examples(scorer, feedback), examples(scorer, others), settings)})
        page.context.close()
    gains = [row["accuracy_after"] - row["accuracy_before"] for row in rows]
    return {"data": name, "feedback_per_label": PER_LABEL, "held_out_per_label": held_out, "draws": rows,
            "mean_accuracy_before": round(float(np.mean([r["accuracy_before"] for r in rows])), 4),
            "mean_accuracy_after": round(float(np.mean([r["accuracy_after"] for r in rows])), 4),
            "mean_gain": round(float(np.mean(gains)), 4), "min_gain": round(float(np.min(gains)), 4),
            **longer_runs(rows, settings["epochs"]), "max_ms_per_epoch": max(row["ms_per_epoch"] for row in rows)}


def longer_runs(rows: list[dict], epochs: int) -> dict:
    """Mean held-out accuracy of the twin after each length, and the share of the longest run's gain reached in
    `epochs` (1.0: the longer runs add nothing)."""
    means = {length: round(float(np.mean([row["twin_by_epochs"][length]["accuracy"] for row in rows])), 4)
             for length in (epochs, *LONGER_EPOCHS)}
    before = float(np.mean([row["accuracy_before"] for row in rows]))
    longest = means[LONGER_EPOCHS[-1]]
    share = round((means[epochs] - before) / (longest - before), 3) if longest > before else None
    return {"twin_mean_accuracy_by_epochs": means, "share_of_longest_gain_at_page_epochs": share}


def client_shares(texts: dict[str, list[str]], per_label: int, held_out: int, clients: int = 5,
                  seed: int = 100) -> list[tuple[list[dict], list[dict]]]:
    """Each client's own feedback (`per_label` texts per label) and held-out texts (`held_out` per label), disjoint."""
    rng, stride = np.random.default_rng(seed), per_label + held_out
    shares: list[tuple[list[dict], list[dict]]] = [([], []) for _ in range(clients)]
    for label, pool in texts.items():
        order = rng.permutation(len(pool))
        for client, (own, others) in enumerate(shares):
            chunk = [pool[i] for i in order[client * stride:(client + 1) * stride]]
            own += [{"text": text, "label": label} for text in chunk[:per_label]]
            others += [{"text": text, "label": label} for text in chunk[per_label:]]
    return shares


def federated_round(browser, name: str, per_label: int, held_out: int, scratch: Path) -> dict:
    shares = client_shares(labelled_texts(name), per_label, held_out)
    evaluation = [item for _, others in shares for item in others]
    server, base, flower = launch_server(MODEL, PAGE, scratch / "server.log", 5, scratch / "head.json")
    try:
        pythons = []
        for k in (3, 4):
            data = scratch / f"client{k}.jsonl"
            write_jsonl(data, shares[k][0])
            pythons.append(launch_client(data, flower, base, MODEL, scratch / f"client{k}_head.json",
                                         scratch / f"client{k}.log"))
        pages = []
        for k in range(3):
            page = open_page(browser.new_context(), f"{base}/index.html")
            page.evaluate("(items) => window.tinydetect.mark(items)", shares[k][0])
            page.evaluate(f"() => {{ window.round = window.tinydetect.federate('', '{TEST_TOKEN}'); }}")
            pages.append(page)
        for page in pages:
            page.evaluate("window.round")
            page.context.close()
        for process in pythons:
            process.wait(300)
        (report,) = get_json(f"{base}/api/status", token=TEST_TOKEN)["history"]
        global_head = Head.from_json(get_json(f"{base}/api/head"))
    finally:
        interrupt(server)
    scorer = WebScorer(MODEL)
    embeddings = scorer.embeddings([item["text"] for item in evaluation])
    cuts = scorer.threshold.for_texts([item["text"] for item in evaluation])
    labels = [int(item["label"] == "AI") for item in evaluation]
    return {"data": name, "clients": 5, "browsers": 3, "python_clients": 2, "texts_per_label_per_client": per_label,
            "held_out_texts": len(evaluation), "bytes_sent_per_client": report["bytes_sent"],
            "float32_delta_bytes": int(global_head.weight.size + global_head.bias.size) * 4,
            "int8_delta_bytes": int(global_head.weight.size + global_head.bias.size),
            "rejected": report["rejected"], "failures": report["failures"],
            "accuracy_start_head": round(scorer.head.accuracy(embeddings, labels, cuts), 4),
            "accuracy_global_head": round(global_head.accuracy(embeddings, labels, cuts), 4)}


def screenshot(browser, url: str, feedback: list[dict], text: str) -> None:
    """The page after a user scored a text, corrected a few labels and trained: for docs/web.md."""
    page = browser.new_context(viewport={"width": 900, "height": 720}).new_page()
    page.goto(url)
    page.evaluate("window.tinydetect.ready")
    page.evaluate("(items) => window.tinydetect.mark(items)", feedback)
    page.click("#train")
    page.wait_for_function("document.querySelector('#train-report').textContent.includes('epochs')")
    page.fill("#text", text)
    page.click("#score")
    page.wait_for_function("document.querySelector('#result').textContent.includes('p(AI)')")
    page.click("details summary")
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=5, help="random draws of the feedback per data set")
    parser.add_argument("--held-out", type=int, default=100, help="other texts per label to measure accuracy on")
    parser.add_argument("--runs", type=int, default=50, help="timed runs of the 128-token text")
    parser.add_argument("--fl-per-label", type=int, default=20, help="feedback texts per label per FL client")
    parser.add_argument("--fl-held-out", type=int, default=10, help="held-out texts per label per FL client")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    settings = load_params("web")["web"]
    scorer = WebScorer(MODEL, threads=1)
    text = text_of_tokens(scorer, labelled_texts("l2r_blogs_en")["HUMAN"], TOKENS)
    server = start_page_server(PAGE, MODEL)
    url = f"http://127.0.0.1:{server.server_port}/index.html"
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as scratch:
        browser = launch_chromium(playwright)
        result = {
            "commit": commit(), "date": date.today().isoformat(), "web_params": settings.model_dump(),
            "chromium": browser.version, "latency_128_tokens": latency(browser, url, scorer, text, args.runs),
            "latency_128_tokens_fp32_backbone": fp32_latency(browser, text, args.runs, Path(scratch)),
            "page_weight": page_weight(browser, url),
            "feedback_training": [feedback_training(browser, url, name, args.draws, args.held_out,
                                                    settings.feedback.model_dump()) for name in DATASETS],
            "federated_round": [federated_round(browser, name, args.fl_per_label, args.fl_held_out, Path(scratch))
                                for name in DATASETS],
        }
        # English: this machine's Chromium has no CJK font, and Korean would show as empty boxes
        feedback, _ = draw(labelled_texts("l2r_blogs_en"), np.random.default_rng(0), PER_LABEL, 0)
        screenshot(browser, url, feedback, labelled_texts("l2r_blogs_en")["AI"][-1])
        browser.close()
    server.shutdown()
    write_json(RESULTS, result)
    print_tables(result)


def print_tables(result: dict) -> None:
    print(f"\nlatency of one {TOKENS}-token text (Chromium {result['chromium']}):")
    for name, row in result["latency_128_tokens"].items():
        print(f"  {name:<30} p50 {row['p50_ms']:>7.2f} ms   p90 {row['p90_ms']:>7.2f} ms")
    fp32 = result["latency_128_tokens_fp32_backbone"]
    print(f"  {'wasm_1_thread, fp32 backbone':<30} p50 {fp32['p50_ms']:>7.2f} ms   p90 {fp32['p90_ms']:>7.2f} ms "
          f"(backbone {fp32['backbone_gzip_mb']} MB gzip)")
    weight = result["page_weight"]
    print(f"page weight: {weight['total_mb']} MB, {weight['total_gzip_mb']} MB gzip (budget {weight['budget_mb']} MB)")
    epochs = result["web_params"]["feedback"]["epochs"]
    print(f"\n{'training on feedback':<16}{'before':>8}{'page':>8}{'gain min':>9}"
          + "".join(f"{f'twin {n}':>9}" for n in (epochs, *LONGER_EPOCHS)) + f"{'share':>7}{'ms/epoch':>9}"
          + "  feedback loss by epochs, per draw")
    for row in result["feedback_training"]:
        twin = row["twin_mean_accuracy_by_epochs"]
        losses = ", ".join("/".join(str(run["loss"]) for run in d["twin_by_epochs"].values()) for d in row["draws"])
        print(f"{row['data']:<16}{row['mean_accuracy_before']:>8.3f}{row['mean_accuracy_after']:>8.3f}"
              f"{row['min_gain']:>9.3f}" + "".join(f"{value:>9.3f}" for value in twin.values())
              + f"{row['share_of_longest_gain_at_page_epochs']:>7}{row['max_ms_per_epoch']:>9.2f}  {losses}")
    print(f"\n{'federated round':<22}{'start':>8}{'global':>8}  bytes sent per client")
    for row in result["federated_round"]:
        print(f"{row['data']:<22}{row['accuracy_start_head']:>8.3f}{row['accuracy_global_head']:>8.3f}  "
              f"{sorted(row['bytes_sent_per_client'].values())} (float32 delta: {row['float32_delta_bytes']} B)")


if __name__ == "__main__":
    main()
