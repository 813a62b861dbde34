"""`tinydetect serve`: one Triton Inference Server, started through PyTriton, serving the model `tinydetect`.

Request: `text`, BYTES, shape [n, 1] (n <= max batch size), UTF-8. Response: `p_ai` FP32 [n, 1] and `label` BYTES
[n, 1] ("AI" or "HUMAN", by the threshold of the text's language saved beside the model). Triton's dynamic batcher
joins concurrent requests into one model execution; HTTP and gRPC (KServe v2), /v2/health/ready and Prometheus
metrics on their ports.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tinydetect.core.config import ServeConfig, load_params
from tinydetect.core.errors import UserError, exit_on_user_error
from tinydetect.serving.environment import load_this_python_in_the_stub
from tinydetect.serving.repository import SERVED_MODEL, served_variant, text_model_config, write_config

BACKEND_MODEL = Path(__file__).with_name("triton_model.py")
DRAIN_TIMEOUT_S = 20.0  # on a stop, the longest the requests in flight are waited for
DRAIN_GRACE_S = 1.0  # then readiness stays false this long, answering, before the process exits


def build_repository(repository: Path, model_path: Path, config: ServeConfig) -> Path:
    """`<repository>/tinydetect/{config.pbtxt, 1/model.py}`: the Python-backend model scoring with `model_path`."""
    version = repository / SERVED_MODEL / "1"
    version.mkdir(parents=True)
    shutil.copyfile(BACKEND_MODEL, version / "model.py")
    return write_config(text_model_config(model_path, config), repository / SERVED_MODEL)


def check_model(model_path: Path) -> None:
    if model_path.suffix != ".onnx":
        raise UserError(f"{model_path}: `tinydetect serve` serves ONNX variants (models/onnx/<source>/model*.onnx); "
                        "PyTorch and Core ML variants are scored with `tinydetect predict`")
    if not model_path.is_file():
        raise UserError(f"{model_path}: no such ONNX model; run `make repro`")


@contextmanager
def running_server(model_path: Path, config: ServeConfig, http_port: int, grpc_port: int, metrics_port: int,
                   address: str = "127.0.0.1") -> Iterator[object]:
    """A started Triton (ready: the model is loaded) for the body of the `with`; stopped and cleaned after it."""
    check_model(model_path)
    load_this_python_in_the_stub()
    from pytriton.triton import Triton, TritonConfig

    with tempfile.TemporaryDirectory(prefix="tinydetect-triton-") as folder:
        build_repository(Path(folder), model_path, config)
        triton_config = TritonConfig(
            model_repository=Path(folder), http_address=address, grpc_address=address, metrics_address=address,
            http_port=http_port, grpc_port=grpc_port, metrics_port=metrics_port, exit_timeout_secs=5,
            strict_readiness=True,
        )
        with Triton(config=triton_config) as triton:
            yield triton


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinydetect serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="an ONNX variant (default: the one params.yaml's serve section names, "
                                        "models/onnx/pruned/model_int8.onnx)")
    parser.add_argument("--params", default="params.yaml", help="where the serve section is read (default: %(default)s)")
    parser.add_argument("--address", default="127.0.0.1", help="address to listen on (default: %(default)s; "
                                                               "0.0.0.0 for every interface)")
    parser.add_argument("--http-port", type=int, default=8000, help="KServe v2 HTTP (default: %(default)s)")
    parser.add_argument("--grpc-port", type=int, default=8001, help="KServe v2 gRPC (default: %(default)s)")
    parser.add_argument("--metrics-port", type=int, default=8002, help="Prometheus /metrics (default: %(default)s)")
    for name, field in ServeConfig.model_fields.items():
        if name not in ("source", "onnx_kind"):
            parser.add_argument(f"--{name.replace('_', '-')}", type=int, help=f"{field.description} (default: params)")
    return parser


def settings(args: argparse.Namespace) -> tuple[Path, ServeConfig]:
    """The model and serve settings: params.yaml's serve section (defaults when absent), overridden by flags."""
    config = load_params("serve", path=args.params)["serve"] if Path(args.params).exists() else ServeConfig()
    overrides = {name: getattr(args, name) for name in ServeConfig.model_fields if getattr(args, name, None) is not None}
    config = ServeConfig.model_validate({**config.model_dump(), **overrides})
    return Path(args.model or served_variant(config).path), config


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    model_path, config = settings(args)
    # Ctrl-C and SIGTERM only set a flag that the loop below reads: a KeyboardInterrupt raised wherever the main
    # thread happens to be (inside PyTriton's `is_alive`, say) could leave its state half-changed, and its shutdown
    # then hung past the test's 30 s twice in full CI runs. Stopping from the loop always leaves the `with` cleanly.
    stop_requested = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop_requested.set())
    with running_server(model_path, config, args.http_port, args.grpc_port, args.metrics_port, args.address) as triton:
        print(f"serving {model_path} as model '{SERVED_MODEL}': http://{args.address}:{args.http_port}, "
              f"grpc {args.address}:{args.grpc_port}, metrics http://{args.address}:{args.metrics_port}/metrics; "
              "Ctrl-C stops", file=sys.stderr, flush=True)
        while not stop_requested.wait(0.5) and triton.is_alive():
            pass
        if triton.is_alive():
            drain(args.address, args.http_port, triton.get_access_token())
    print("server stopped", file=sys.stderr)


def drain(address: str, http_port: int, access_token: str | None, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
    """Stop taking work before stopping: readiness goes false and the requests in flight finish.

    Triton (explicit model control, as PyTriton runs it) unloads a model only once its requests in flight are done,
    and answers requests that arrive meanwhile with an error (the model is not ready) instead of accepting them and
    then resetting the connection when the process exits, as a plain stop did. Triton closes its listening socket
    only when it exits, so a client that ignores readiness and connects in that last instant can still be reset.
    """
    import tritonclient.http as triton_http  # the serving venv's; imported here, where it is needed
    from pytriton.client.auth import create_auth_headers

    host = "127.0.0.1" if address in ("0.0.0.0", "::", "") else address
    client = triton_http.InferenceServerClient(f"{host}:{http_port}")
    headers = create_auth_headers(access_token, "http")  # PyTriton guards the model-control API with a token
    print("stopping: no new requests, waiting for those in flight", file=sys.stderr, flush=True)
    client.unload_model(SERVED_MODEL, headers=headers)
    deadline = time.monotonic() + timeout_s
    while client.is_model_ready(SERVED_MODEL, headers=headers) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(DRAIN_GRACE_S)  # not ready, still answering: a load balancer polling readiness routes elsewhere first


if __name__ == "__main__":
    exit_on_user_error(main)
