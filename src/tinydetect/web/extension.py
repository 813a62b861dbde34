"""The browser extension (extension/): building it with a chosen model, packing it, and loading it in Chromium.

Used by `make extension`, the extension's tests and `benchmarks/extension.py`. Chromium loads an unpacked extension
with `--load-extension` (kept in Chromium, unlike branded Chrome) and runs it in its new headless mode, which has
extensions; Playwright needs a persistent context for that.

    python -m tinydetect.web.extension build [--assets web/public/model] [--out extension/dist] [--zip FILE]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import threading
import time
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tinydetect.core.errors import UserError
from tinydetect.web.browser import CHROMIUM_FLAGS, WEB_ROOT, chromium_path

EXTENSION_ROOT = WEB_ROOT.parent / "extension"
DEFAULT_ASSETS = WEB_ROOT / "public" / "model"
FIXTURES = EXTENSION_ROOT / "fixtures"  # the test pages: a Naver-shaped post, an article, a page without one


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise UserError("npm is missing: install Node.js 20+ and npm to build the extension")
    return npm


def _run(command: list[str], cwd: Path, env: dict | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise UserError(f"`{' '.join(command)}` in {cwd} failed:\n{(done.stdout + done.stderr)[-3000:]}")


def build_extension(out_dir: str | Path, assets: str | Path = DEFAULT_ASSETS) -> Path:
    """The unpacked extension in `out_dir`, with the web assets in `assets` as its model; the folder.

    The extension's code imports the page's (web/src), whose packages live in web/node_modules: both folders are
    installed (`npm ci`) when missing."""
    npm, out = _npm(), Path(out_dir).resolve()
    for root in (WEB_ROOT, EXTENSION_ROOT):
        if not (root / "node_modules").exists():
            _run([npm, "ci", "--no-audit", "--no-fund"], root)
    if not (Path(assets) / "detector.json").exists():
        raise UserError(f"{assets}: no web assets (detector.json); `dvc repro web` writes them")
    env = {**os.environ, "TINYDETECT_WEB_ASSETS": str(Path(assets).resolve())}
    _run([npm, "exec", "--", "tsc", "--noEmit"], EXTENSION_ROOT, env)
    _run([npm, "exec", "--", "vite", "build", "--outDir", str(out), "--emptyOutDir"], EXTENSION_ROOT, env)
    _run([npm, "exec", "--", "vite", "build", "--config", "vite.content.config.ts", "--outDir", str(out)],
         EXTENSION_ROOT, env)
    return out


def pack(unpacked: str | Path, zip_path: str | Path) -> Path:
    """The zip a store takes (and `web-ext` makes): the unpacked folder's files at the archive's root."""
    unpacked, zip_path = Path(unpacked), Path(zip_path)
    partial = zip_path.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(unpacked.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(unpacked))
    partial.replace(zip_path)
    return zip_path


def lint(unpacked: str | Path) -> subprocess.CompletedProcess:
    """`web-ext lint` (Mozilla's checker of a package for Firefox) on the unpacked extension, JSON output."""
    return subprocess.run([_npm(), "exec", "--", "web-ext", "lint", "--source-dir", str(Path(unpacked).resolve()),
                           "--self-hosted", "--output", "json"], cwd=EXTENSION_ROOT, capture_output=True, text=True)


def grant_hosts(unpacked: str | Path, patterns: list[str]) -> None:
    """Grants the unpacked extension these sites at install, as a user granting them in its options would (a test
    cannot click the browser's permission prompt): the manifest's `host_permissions`."""
    manifest_path = Path(unpacked) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "host_permissions": patterns}, indent=2))


def launch_with_extension(playwright, unpacked: str | Path, user_data_dir: str | Path):
    """A headless Chromium context (Debian's chromium) with the unpacked extension loaded; its service worker is up."""
    unpacked = str(Path(unpacked).resolve())
    context = playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=chromium_path(), headless=True,
        args=[*CHROMIUM_FLAGS, f"--disable-extensions-except={unpacked}", f"--load-extension={unpacked}"])
    if not context.service_workers:
        context.wait_for_event("serviceworker", timeout=30_000)
    return context


def service_worker(context):
    """The extension's background service worker (evaluate runs in it, with the `chrome.*` APIs)."""
    (worker,) = [w for w in context.service_workers if w.url.endswith("/background.js")]
    return worker


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve_fixtures(folder: Path = FIXTURES) -> ThreadingHTTPServer:
    """The fixture pages on 127.0.0.1 (a free port), in a thread; `shutdown()` stops it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def check_automatically(worker, sites: list[str]) -> list[str]:
    """Sets automatic mode on `sites`, as the options page does; the sites the content script now runs on."""
    return worker.evaluate("""async (sites) => {
        await chrome.storage.local.set({ settings: { mode: "automatic", sites } });
        return globalThis.tinydetect.registerAutomatic(); }""", sites)


def visit(context, worker, url: str, timeout_s: float = 60) -> tuple[object, int, dict]:
    """Opens `url` in a new tab; the page, its tab id and the extension's report on it once stored (sentences in)."""
    page = context.new_page()
    page.goto(url)
    tab = worker.evaluate("async (url) => (await chrome.tabs.query({})).find((tab) => tab.url === url)?.id", url)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        report = worker.evaluate("async (key) => (await chrome.storage.session.get(key))[key]", f"tab-{tab}")
        if report is not None:
            return page, tab, report
        time.sleep(0.05)
    raise RuntimeError(f"{url}: the extension reported nothing in {timeout_s} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the unpacked extension (and its zip)")
    build.add_argument("--assets", type=Path, default=DEFAULT_ASSETS, help="web assets folder (default: %(default)s)")
    build.add_argument("--out", type=Path, default=EXTENSION_ROOT / "dist", help="unpacked folder (default: %(default)s)")
    build.add_argument("--zip", type=Path, help="also pack it into this zip")
    args = parser.parse_args()
    try:
        out = build_extension(args.out, args.assets)
        if args.zip:
            print(f"{pack(out, args.zip)}: {args.zip.stat().st_size / 1e6:.1f} MB")
    except UserError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"built {out}: load it unpacked (chrome://extensions, developer mode), or docs/extension.md")


if __name__ == "__main__":
    main()
