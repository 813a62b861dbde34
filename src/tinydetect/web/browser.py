"""Building the page and driving it in headless Chromium, for the browser tests and the web benchmark.

Chromium is Debian's (`apt-get install chromium`: `make test` installs it), driven by Playwright for Python without
Playwright's own browser download. The flags keep it off the network: without them it keeps trying to reach Google's
hosts, which a closed machine refuses.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tinydetect.core.errors import UserError

WEB_ROOT = Path(__file__).resolve().parents[3] / "web"  # src/tinydetect/web/browser.py -> the checkout's web/
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise UserError("no chromium on PATH: install Debian's package (`apt-get install chromium`; `make test` does)")
    return path


def launch_chromium(playwright):
    """Headless Chromium from the system's package, through a started `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)


def open_page(target, url: str):
    """A new page in `target` (a browser or a browser context) at `url`, once it says it is ready; an error the page
    threw while loading raises."""
    page = target.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.evaluate("window.tinydetect.ready")
    if errors:
        raise RuntimeError(f"{url}: the page threw {errors}")
    return page


def build_page(out_dir: str | Path, web_root: Path = WEB_ROOT) -> Path:
    """`vite build` of web/ into `out_dir` (npm ci first when web/node_modules is missing); the folder."""
    npm = shutil.which("npm")
    if npm is None:
        raise UserError("npm is missing: install Node.js 20+ and npm to build the page")
    if not (web_root / "node_modules").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=web_root, check=True)
    build = subprocess.run([npm, "run", "build", "--", "--outDir", str(Path(out_dir).resolve()), "--emptyOutDir"],
                           cwd=web_root, capture_output=True, text=True)
    if build.returncode != 0:
        raise UserError(f"`npm run build` in {web_root} failed:\n{(build.stdout + build.stderr)[-3000:]}")
    return Path(out_dir)
