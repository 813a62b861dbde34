"""Starting `tinydetect federated server` and `client` as processes in the serving venv, for tests and benchmarks
(`tinydetect.serving.process.interrupt` stops them as a user would)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

from tinydetect.serving.environment import serving_python
from tinydetect.serving.process import free_ports, interrupt


def get_json(url: str, body: dict | None = None, timeout: float = 30.0, token: str | None = None) -> dict:
    """GET `url`, or POST `body` as JSON, with `token` as the bearer credential if given; the answer's JSON
    (urllib's HTTPError on a 4xx or 5xx)."""
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def wait_for(check, what: str, timeout: float = 120.0):
    """`check()`'s first truthy answer, polled every 0.2 s; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


TEST_TOKEN = "test-enrolment-token-0123456789"


def write_token(folder: Path, token: str = TEST_TOKEN) -> Path:
    """An enrolment token file for `--token-file`, readable by its owner only."""
    path = folder / "fl_token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


SERVING_AFTER_ROUNDS = "still serving the page and the global head; Ctrl-C stops"


def interrupt_after_rounds(process: subprocess.Popen, log: Path) -> int:
    """Ctrl-C once the server has said its rounds are over and Ctrl-C is its own again; its exit status. (A Ctrl-C
    while Flower's server is still shutting down is Flower's signal handler's, which may wait on its threads.)"""
    wait_for(lambda: process.poll() is not None or SERVING_AFTER_ROUNDS in log.read_text(), "the rounds to end")
    return interrupt(process)


def launch_server(model: Path, page: Path, log: Path, clients: int, output: Path | None = None,
                  round_timeout: float = 120.0, token: str = TEST_TOKEN,
                  options: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str, str]:
    """The server on free ports with enrolment token `token` (and more `options`), once its HTTP API answers:
    (process, HTTP base URL, Flower address)."""
    http_port, flower_port = free_ports(2)
    command = [str(serving_python()), "-m", "tinydetect.federated", "server", "--model", str(model), "--page",
               str(page), "--port", str(http_port), "--flower-port", str(flower_port), "--clients", str(clients),
               "--round-timeout", str(round_timeout), "--token-file", str(write_token(log.parent, token)), *options,
               ] + (["--output", str(output)] if output else [])
    process = _start(command, log)
    base = f"http://127.0.0.1:{http_port}"

    def up():
        if process.poll() is not None:
            raise RuntimeError(f"the FL server exited:\n{log.read_text()[-3000:]}")
        try:
            return get_json(f"{base}/api/status", token=token)
        except OSError:
            return None

    try:
        wait_for(up, "the FL server")
    except TimeoutError:
        interrupt(process)
        raise
    return process, base, f"127.0.0.1:{flower_port}"


def launch_client(data: Path, flower: str, base: str, model: Path, output: Path, log: Path,
                  token: str = TEST_TOKEN) -> subprocess.Popen:
    """`tinydetect federated client` on `data`; it pulls the global head into `output` after the rounds."""
    command = [str(serving_python()), "-m", "tinydetect.federated", "client", str(data), "--server", flower, "--http",
               base, "--model", str(model), "--output", str(output), "--token-file", str(write_token(log.parent, token))]
    return _start(command, log)


def _start(command: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as log_file:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
