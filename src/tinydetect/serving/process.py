"""`tinydetect serve` as a child process on free loopback ports: what the tests and the load benchmark start."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STARTUP_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30


@dataclass
class ServerProcess:
    process: subprocess.Popen
    http_port: int
    grpc_port: int
    metrics_port: int
    log: Path

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def url(self, protocol: str) -> str:
        """Where a client of `protocol` ("http" or "grpc") connects."""
        return self.http_url if protocol == "http" else self.grpc_url

    def get(self, path: str, port: int | None = None) -> tuple[int, str]:
        """(status, body) of a GET on the server, e.g. `/v2/health/ready`; (0, error) when nothing answers."""
        url = f"http://127.0.0.1:{port or self.http_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError as error:
            return 0, str(error)

    def ready(self) -> bool:
        return self.get("/v2/health/ready")[0] == 200

    def stop(self) -> int:
        return interrupt(self.process)


def interrupt(process: subprocess.Popen) -> int:
    """Ctrl-C, as a user would; the exit status (killed only if it does not stop within STOP_TIMEOUT_S)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # a server registering SIGUSR1 with faulthandler (the FL server) prints its threads' stacks to its log first
            process.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
            process.kill()
    return process.wait()


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now (bound to port 0 together, then released)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def launch(model: str | Path, log: Path, *flags: str, ports: tuple[int, int, int] | None = None) -> ServerProcess:
    """Start `tinydetect serve` (on free ports unless given) and wait until /v2/health/ready says yes.

    A server that exits or is not ready within STARTUP_TIMEOUT_S raises RuntimeError with its log's tail.
    """
    http_port, grpc_port, metrics_port = ports or free_ports(3)
    command = [sys.executable, "-m", "tinydetect", "serve", "--model", str(model), "--http-port", str(http_port),
               "--grpc-port", str(grpc_port), "--metrics-port", str(metrics_port), *flags]
    with open(log, "a") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    server = ServerProcess(process, http_port, grpc_port, metrics_port, log)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.ready():
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            tail = "\n".join(log.read_text(errors="replace").split("\n")[-15:])
            raise RuntimeError(f"`tinydetect serve` did not become ready (exit {process.poll()}):\n{tail}")
        time.sleep(0.2)
    return server


@contextmanager
def served(model: str | Path, log: Path, *flags: str) -> Iterator[ServerProcess]:
    server = launch(model, log, *flags)
    try:
        yield server
    finally:
        server.stop()
