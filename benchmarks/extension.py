"""Extension benchmark: how soon the badge shows on a post, and how big the package is.

Builds the extension with the web assets `make repro` wrote (web/public/model), loads it in headless Debian
Chromium (Playwright, `--load-extension`), grants it the local fixture site (extension/fixtures, served here) and
opens each fixture page once to warm its path, then `--runs` times. In automatic mode the extension loads the
model as soon as it is set up: the first post of a fresh browser is timed twice, opened at once (its badge waits
for the load) and 5 s later (the load is done). The extension times itself: from its content script's start (the
post's text is in the page) to the badge set (`totalMs`), of which finding the text (`extractMs`) and the model on the whole text (`scoreMs`);
the sentences are scored after the badge (`sentencesMs`).

    python -m benchmarks.extension [--runs 20]
    python -m benchmarks.extension --table      # docs/extension.md's rows, from the results file

Writes `benchmarks/results/extension.json` and a screenshot of the panel on the English article
(`benchmarks/results/extension_panel.png`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from benchmarks import REPO_ROOT
from benchmarks._common import commit
from tinydetect.core.files import write_json
from tinydetect.web.extension import (
    DEFAULT_ASSETS,
    build_extension,
    check_automatically,
    grant_hosts,
    launch_with_extension,
    pack,
    serve_fixtures,
    service_worker,
    visit,
)

PAGES = {"naver": "naver/blog.html", "article": "article.html"}
RESULTS = REPO_ROOT / "benchmarks" / "results"


def timings(report: dict) -> dict:
    result = report["result"] or {}
    return {"total_ms": report["totalMs"], "extract_ms": report["extractMs"], "score_ms": result.get("scoreMs"),
            "sentences_ms": result.get("sentencesMs"), "sentences": len(result.get("sentences", [])),
            "characters": len(report["text"])}


def summary(rows: list[dict]) -> dict:
    totals = np.array([row["total_ms"] for row in rows])
    return {"runs": len(rows), "total_ms_p50": round(float(np.median(totals)), 1),
            "total_ms_p95": round(float(np.percentile(totals, 95)), 1),
            "score_ms_p50": round(float(np.median([row["score_ms"] for row in rows])), 1),
            "sentences_ms_p50": round(float(np.median([row["sentences_ms"] for row in rows])), 1),
            "extract_ms_p50": round(float(np.median([row["extract_ms"] for row in rows])), 1)}


def set_up_automatic(context):
    """The extension's worker, set to check the fixture site automatically (which also starts loading the model)."""
    worker = service_worker(context)
    check_automatically(worker, ["http://127.0.0.1/*"])
    return worker


def first_page(unpacked: Path, url: str, wait_s: float) -> dict:
    """A fresh browser's first post, opened `wait_s` after the extension was set up: at 0 the badge waits for the
    model to load; once the start-up load is done, it does not."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = launch_with_extension(playwright, unpacked, profile)
        worker = set_up_automatic(context)
        time.sleep(wait_s)
        _, _, report = visit(context, worker, url)
        context.close()
    return timings(report)


def measure(unpacked: Path, site: str, runs: int, screenshot: Path) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = launch_with_extension(playwright, unpacked, profile)
        worker = set_up_automatic(context)
        results = {}
        for name, path in PAGES.items():
            visit(context, worker, f"{site}/{path}")[0].close()  # the first visit warms this page's path
            warm = []
            for _ in range(runs):
                page, tab, report = visit(context, worker, f"{site}/{path}")
                warm.append(timings(report))
                if name == "article" and len(warm) == runs:  # (this machine has no Korean font)
                    panel = context.new_page()
                    panel.set_viewport_size({"width": 460, "height": 560})
                    panel.goto(f"chrome-extension://{worker.url.split('/')[2]}/popup.html?tab={tab}")
                    panel.locator("#sentences li").first.wait_for()
                    panel.screenshot(path=screenshot)
                    panel.close()
                page.close()
            results[name] = {"label": report["result"]["label"], "p_ai": round(report["result"]["probability"], 6),
                             "reason": report["result"]["reason"], "warm": summary(warm),
                             "characters": warm[0]["characters"], "sentences": warm[0]["sentences"]}
        context.close()
    return results


def table_rows(result: dict) -> list[str]:
    """docs/extension.md's table, from `extension.json`."""
    rows = [f"Package {result['package_mb']} MB zipped (backbone {result['backbone_mb']} MB), ONNX Runtime Web on "
            f"WebAssembly, one thread, headless Chromium on this 2-core machine, {result['runs']} warm runs a page "
            f"(commit {result['commit'][:7]}).", "",
            "| page | characters, sentences | badge, p50 (ms) | badge, p95 (ms) | model on the text, p50 (ms) | "
            "sentences after the badge, p50 (ms) |", "|---|---|---|---|---|---|"]
    for name, row in result["pages"].items():
        warm = row["warm"]
        rows.append(f"| {name} | {row['characters']}, {row['sentences']} | {warm['total_ms_p50']:.0f} | "
                    f"{warm['total_ms_p95']:.0f} | {warm['score_ms_p50']:.0f} | {warm['sentences_ms_p50']:.0f} |")
    first = result["first_page"]
    rows += ["", f"A fresh browser's first post (naver), opened as soon as the extension is set up: badge after "
             f"{first['after_0_s']['total_ms']:.0f} ms (it waits for the model to load); opened 5 s later: "
             f"{first['after_5_s']['total_ms']:.0f} ms."]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="warm visits of each page (default 20)")
    parser.add_argument("--assets", type=Path, default=DEFAULT_ASSETS, help="web assets (default: %(default)s)")
    parser.add_argument("--table", action="store_true", help="print the docs' table from the results file and stop")
    args = parser.parse_args()
    if args.table:
        print("\n".join(table_rows(json.loads((RESULTS / "extension.json").read_text()))))
        return
    server = serve_fixtures()
    try:
        with tempfile.TemporaryDirectory() as build:
            unpacked = build_extension(Path(build) / "unpacked", args.assets)
            package_mb = pack(unpacked, Path(build) / "tinydetect.zip").stat().st_size / 1e6
            grant_hosts(unpacked, ["http://127.0.0.1/*"])  # the fixture site, as a user's grant in the options
            site = f"http://127.0.0.1:{server.server_port}"
            first = {f"after_{wait:g}_s": first_page(unpacked, f"{site}/{PAGES['naver']}", wait) for wait in (0, 5)}
            pages = measure(unpacked, site, args.runs, RESULTS / "extension_panel.png")
    finally:
        server.shutdown()
    model = json.loads((args.assets / "detector.json").read_text())
    result = {"commit": commit(), "date": date.today().isoformat(), "assets": str(args.assets.relative_to(REPO_ROOT))
              if args.assets.is_relative_to(REPO_ROOT) else str(args.assets),
              "backbone_mb": round((args.assets / "backbone.onnx").stat().st_size / 1e6, 2),
              "package_mb": round(package_mb, 2), "threads": 1, "backend": "wasm", "runs": args.runs,
              "languages": model.get("languages"), "first_page": first, "pages": pages}
    write_json(RESULTS / "extension.json", result)
    print(f"package {result['package_mb']} MB (backbone {result['backbone_mb']} MB), WebAssembly, 1 thread")
    print(f"first post of a fresh browser: {first['after_0_s']['total_ms']:.0f} ms opened at once, "
          f"{first['after_5_s']['total_ms']:.0f} ms opened 5 s after the set-up")
    print(f"{'page':<10}{'warm p50':>10}{'warm p95':>10}{'score p50':>11}{'sentences p50':>15}  label")
    for name, row in pages.items():
        warm = row["warm"]
        print(f"{name:<10}{warm['total_ms_p50']:>10.0f}{warm['total_ms_p95']:>10.0f}{warm['score_ms_p50']:>11.0f}"
              f"{warm['sentences_ms_p50']:>15.0f}  {row['label']} (P(AI) {row['p_ai']})")


if __name__ == "__main__":
    main()
