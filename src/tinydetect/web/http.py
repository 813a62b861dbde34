"""Serving the built page (web/dist/) and the web assets (web/public/model/) over HTTP, cross-origin isolated.

The page's multi-threaded WebAssembly needs SharedArrayBuffer, which browsers give only to a page served with
`Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`; every response here
carries them. The federated server (tinydetect.federated.server) serves the page the same way, with its API beside it.
No directory is listed, and no cross-origin header is sent: the page loads everything from its own origin.
"""

from __future__ import annotations

import functools
import json
import mimetypes
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tinydetect.core.errors import UserError

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "cross-origin",
}
MODEL_PREFIX = "/model/"
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")


class PageHandler(SimpleHTTPRequestHandler):
    """GET /model/<file> from the assets folder, anything else from the built page."""

    model_dir: Path

    def __init__(self, *args, model_dir: Path, **kwargs):
        self.model_dir = model_dir
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        try:
            if self.path.startswith(MODEL_PREFIX) and not _is_asset_name(self.path[len(MODEL_PREFIX):].split("?", 1)[0]):
                self.send_error(404, "no such asset")
                return
            super().do_GET()
        except ValueError:  # a NUL byte or the like in the path: the file system refuses it
            self.send_error(400, "bad path")

    def list_directory(self, path):
        self.send_error(404, "no directory listings here")
        return None

    def translate_path(self, path: str) -> str:
        if path.startswith(MODEL_PREFIX):
            name = path[len(MODEL_PREFIX):].split("?", 1)[0]
            return str(self.model_dir / Path(name).name)  # one flat folder: no way out of it
        return super().translate_path(path)

    def end_headers(self) -> None:
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-store")  # a new `dvc repro` or round is seen at once
        super().end_headers()

    def send_json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass  # quiet: a page load is a dozen requests


def _is_asset_name(name: str) -> bool:
    """A plain file name in the assets folder: no folder part, no `.` or `..`, nothing hidden.

    >>> [_is_asset_name(name) for name in ("backbone.onnx", "", "..", "../x", "a/b", ".env")]
    [True, False, False, False, False, False]
    """
    return bool(name) and Path(name).name == name and not name.startswith(".")


def check_folders(page_dir: str | Path, model_dir: str | Path) -> tuple[Path, Path]:
    page_dir, model_dir = Path(page_dir), Path(model_dir)
    if not (page_dir / "index.html").exists():
        raise UserError(f"{page_dir}/index.html is missing: build the page first (`npm --prefix web run build`)")
    if not (model_dir / "backbone.onnx").exists():
        raise UserError(f"{model_dir}/backbone.onnx is missing: run `dvc repro web` to write the web assets")
    return page_dir, model_dir


def start_page_server(page_dir: str | Path, model_dir: str | Path, host: str = "127.0.0.1", port: int = 0,
                      handler: type[PageHandler] = PageHandler, **handler_options) -> ThreadingHTTPServer:
    """Serve in a daemon thread; the caller stops it with `.shutdown()`. Port 0: any free port (`.server_port`)."""
    page_dir, model_dir = check_folders(page_dir, model_dir)
    factory = functools.partial(handler, directory=str(page_dir), model_dir=model_dir, **handler_options)
    server = ThreadingHTTPServer((host, port), factory)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="page-server", daemon=True).start()
    return server
