"""The federated-averaging server: Flower runs the rounds and averages, browsers join over HTTP.

Flower's (legacy, gRPC) server runs the round loop with its `FedAvg` strategy: each round it samples `clients`
clients from its client manager, sends them the global head, collects their results and averages them weighted by
each client's example count. Python clients reach it through Flower itself (tinydetect.federated.client). Browsers
cannot speak Flower's gRPC, so each browser that registers over HTTP becomes a `BrowserClientProxy` in the same client
manager: Flower asks it to fit like any other client, and it hands the round's head to the browser (GET /api/task) and
waits for the browser's update (POST /api/update).

Clients send deltas (tinydetect.federated.update); `DeltaFedAvg` checks each one and turns it into the client's head
(the round's global head plus the delta) before Flower's FedAvg averages the heads. A bad update is rejected (over
HTTP at once, with the reason; a Flower client's in the round's log) and is not averaged; a round with no good update
leaves the global head as it was.

The same HTTP server serves the built page and the web assets, so one command serves the whole thing.
"""

from __future__ import annotations

import os

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")  # Flower reports usage events over the network unless told not to

import argparse
import json
import logging
import queue
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
from flwr.common import (
    Code,
    DisconnectRes,
    EvaluateIns,
    EvaluateRes,
    FitIns,
    FitRes,
    GetParametersIns,
    GetParametersRes,
    GetPropertiesIns,
    GetPropertiesRes,
    Parameters,
    ReconnectIns,
    Status,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.server import Server, ServerConfig, SimpleClientManager, start_server
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import FedAvg

from tinydetect.core.errors import UserError
from tinydetect.core.files import write_json
from tinydetect.federated.update import UpdateError, dequantize, from_wire, wire_bytes
from tinydetect.web.head import Head
from tinydetect.web.http import PageHandler, start_page_server
from tinydetect.web.scorer import HEAD_FILE

log = logging.getLogger("tinydetect.federated")
MAX_BODY_BYTES = 8_000_000
ROUND_KEY = "server_round"


class Rejected(UserError):
    """An HTTP request the server refuses, with its status code."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class RoundBoard:
    """What the HTTP side and Flower's round loop share: the global head and each round's outcome (the browsers are
    in Flower's client manager, beside the Python clients)."""

    head: Head
    output: Path | None = None
    completed_round: int = 0
    history: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def close_round(self, server_round: int, head: Head | None, report: dict) -> None:
        with self.lock:
            if head is not None:
                self.head = head
            self.completed_round = server_round
            self.history.append({"round": server_round, "head_changed": head is not None, **report})
            if self.output is not None:
                write_json(self.output, {"round": server_round, **self.head.to_json()})


class BrowserClientProxy(ClientProxy):
    """A browser in Flower's client manager: `fit` publishes the round's head and waits for the browser's update."""

    def __init__(self, cid: str):
        super().__init__(cid)
        self._task: tuple[int, list[np.ndarray]] | None = None  # the open round and its global [weight, bias]
        self._updates: queue.Queue = queue.Queue(maxsize=1)
        self._lock = threading.Lock()

    def task(self) -> tuple[int, list[np.ndarray]] | None:
        with self._lock:
            return self._task

    def submit(self, server_round: int, update: list[np.ndarray], num_examples: int, sent_bytes: int) -> None:
        """Hand a browser's update to the waiting `fit`; refused unless this client's `server_round` is open."""
        with self._lock:
            if self._task is None or self._task[0] != server_round:
                raise Rejected(409, f"round {server_round} is not open for client {self.cid} (closed, answered or "
                                    "not started): the global head is unchanged")
            dequantize(update, [array.shape for array in self._task[1]])  # raises UpdateError
            self._task = None  # one update per round
            self._updates.put_nowait((update, num_examples, sent_bytes))

    def fit(self, ins: FitIns, timeout: float | None, group_id: int | None) -> FitRes:
        server_round = int(ins.config[ROUND_KEY])
        with self._lock:
            self._task = (server_round, parameters_to_ndarrays(ins.parameters))
        try:
            update, num_examples, sent_bytes = self._updates.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"browser {self.cid} sent no update for round {server_round} in {timeout} s") from None
        finally:
            with self._lock:
                self._task = None
        return FitRes(status=Status(Code.OK, "update received"), parameters=ndarrays_to_parameters(update),
                      num_examples=num_examples, metrics={"bytes_sent": sent_bytes})

    def get_properties(self, ins: GetPropertiesIns, timeout: float | None, group_id: int | None) -> GetPropertiesRes:
        return GetPropertiesRes(status=Status(Code.OK, ""), properties={"kind": "browser"})

    def get_parameters(self, ins: GetParametersIns, timeout: float | None, group_id: int | None) -> GetParametersRes:
        # the server holds the global head from the start (initial_parameters): never asked
        return GetParametersRes(status=Status(Code.GET_PARAMETERS_NOT_IMPLEMENTED, "a browser holds no model of its "
                                              "own"), parameters=Parameters(tensors=[], tensor_type=""))

    def evaluate(self, ins: EvaluateIns, timeout: float | None, group_id: int | None) -> EvaluateRes:
        # federated evaluation is off (fraction_evaluate=0): browsers report accuracy to their users, not the server
        return EvaluateRes(status=Status(Code.EVALUATE_NOT_IMPLEMENTED, "no federated evaluation"), loss=0.0,
                           num_examples=0, metrics={})

    def reconnect(self, ins: ReconnectIns, timeout: float | None, group_id: int | None) -> DisconnectRes:
        return DisconnectRes(reason="the server finished its rounds")


class DeltaFedAvg(FedAvg):
    """Flower's FedAvg over the clients' heads, rebuilt from their checked deltas."""

    def __init__(self, board: RoundBoard, clients: int):
        super().__init__(fraction_fit=1.0, min_fit_clients=clients, min_available_clients=clients,
                         fraction_evaluate=0.0, min_evaluate_clients=0, accept_failures=True,
                         initial_parameters=ndarrays_to_parameters(board.head.arrays()),
                         on_fit_config_fn=lambda server_round: {ROUND_KEY: server_round})
        self.board = board

    def aggregate_fit(self, server_round, results, failures):
        base = self.board.head.arrays()
        heads, rejected, sent = [], {}, {}
        for proxy, result in results:
            update = parameters_to_ndarrays(result.parameters)
            sent[proxy.cid] = int(result.metrics.get("bytes_sent", 0)) or _parameter_bytes(result.parameters)
            try:
                delta = dequantize(update, [array.shape for array in base])
            except UpdateError as error:
                log.warning("round %s: update of client %s rejected: %s", server_round, proxy.cid, error)
                rejected[proxy.cid] = str(error)
                continue
            head = ndarrays_to_parameters([start + change for start, change in zip(base, delta, strict=True)])
            heads.append((proxy, FitRes(result.status, head, result.num_examples, result.metrics)))
        report = {"clients": len(results), "failures": [str(failure) for failure in failures], "rejected": rejected,
                  "bytes_sent": sent, "examples": sum(result.num_examples for _, result in heads)}
        if not heads:
            self.board.close_round(server_round, None, report)
            return None, {}
        parameters, metrics = super().aggregate_fit(server_round, heads, failures)
        self.board.close_round(server_round, self.board.head.with_arrays(parameters_to_ndarrays(parameters)), report)
        return parameters, metrics


def _parameter_bytes(parameters: Parameters) -> int:
    return sum(len(tensor) for tensor in parameters.tensors)


class FederatedHandler(PageHandler):
    """The page and its assets (PageHandler), and the API browsers use to join rounds."""

    board: RoundBoard
    client_manager: SimpleClientManager

    def __init__(self, *args, board: RoundBoard, client_manager: SimpleClientManager, **kwargs):
        self.board, self.client_manager = board, client_manager
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        routes = {"/api/head": self.global_head, "/api/status": self.status, "/api/task": self.task}
        if url.path in routes:
            self.answer(lambda: routes[url.path](parse_qs(url.query)))
        else:
            super().do_GET()

    def do_POST(self) -> None:
        routes = {"/api/register": self.register, "/api/update": self.update}
        route = routes.get(urlparse(self.path).path)
        if route is None:
            self.send_json(404, {"error": f"no such endpoint: POST {self.path}"})
        else:
            self.answer(lambda: route(self.read_body()))

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.end_headers()

    def answer(self, route) -> None:
        try:
            self.send_json(200, route())
        except Rejected as error:
            self.send_json(error.status, {"error": str(error)})
        except UpdateError as error:
            self.send_json(400, {"error": f"update rejected: {error}; the global head is unchanged"})

    def read_body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise Rejected(413, f"body of {length} bytes: at most {MAX_BODY_BYTES}")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise Rejected(400, f"the body is not JSON: {error}") from None
        if not isinstance(body, dict):
            raise Rejected(400, "the body must be a JSON object")
        return body

    @property
    def body_size(self) -> int:
        """Bytes of this request's body: what a browser's update cost on the wire."""
        return int(self.headers.get("Content-Length") or 0)

    def client(self, client_id: object) -> BrowserClientProxy:
        proxy = self.client_manager.all().get(str(client_id))
        if not isinstance(proxy, BrowserClientProxy):
            raise Rejected(403, f"unknown client {client_id!r}: POST /api/register first")
        return proxy

    def global_head(self, query: dict) -> dict:
        with self.board.lock:
            return {"round": self.board.completed_round, **self.board.head.to_json()}

    def status(self, query: dict) -> dict:
        with self.board.lock:
            history, completed_round = list(self.board.history), self.board.completed_round
        clients = self.client_manager.all()
        return {"completed_round": completed_round, "history": history, "clients_connected": len(clients),
                "browsers": sorted(cid for cid, proxy in clients.items() if isinstance(proxy, BrowserClientProxy))}

    def task(self, query: dict) -> dict:
        task = self.client(query.get("client_id", [""])[0]).task()
        if task is None:
            return {"status": "wait", "round": self.board.completed_round}
        server_round, (weight, bias) = task
        return {"status": "train", "round": server_round, "head": {"weight": weight.tolist(), "bias": bias.tolist()}}

    def register(self, body: dict) -> dict:
        client_id = body.get("client_id")
        if not isinstance(client_id, str) or not 0 < len(client_id) <= 128:
            raise Rejected(400, "client_id must be a string of 1 to 128 characters")
        self.client_manager.register(BrowserClientProxy(client_id))  # False, keeping the first, when registered twice
        self.client(client_id)  # 403 where a Flower client already holds the id
        return {"client_id": client_id, "registered": True}

    def update(self, body: dict) -> dict:
        proxy = self.client(body.get("client_id"))
        num_examples = body.get("num_examples")
        if not isinstance(num_examples, int) or num_examples <= 0:
            raise UpdateError(f"num_examples must be a positive integer, got {num_examples!r}")
        server_round = body.get("round")
        if not isinstance(server_round, int):
            raise UpdateError(f"round must be an integer, got {server_round!r}")
        update = from_wire(body.get("tensors"))
        proxy.submit(server_round, update, num_examples, self.body_size)
        return {"accepted": True, "round": server_round, "bytes": self.body_size, "update_bytes": wire_bytes(update)}


def serve(args: argparse.Namespace) -> None:
    board = RoundBoard(Head.from_json(json.loads((Path(args.model) / HEAD_FILE).read_text())),
                       Path(args.output) if args.output else None)
    client_manager = SimpleClientManager()
    http = start_page_server(args.page, args.model, args.host, args.port, FederatedHandler, board=board,
                             client_manager=client_manager)
    print(f"page and API on http://{args.host}:{http.server_port}/ ; Flower on {args.host}:{args.flower_port}; "
          f"waiting for {args.clients} clients per round, {args.rounds} round(s)", flush=True)
    strategy = DeltaFedAvg(board, args.clients)
    start_server(server_address=f"{args.host}:{args.flower_port}",
                 server=Server(client_manager=client_manager, strategy=strategy),
                 config=ServerConfig(num_rounds=args.rounds, round_timeout=args.round_timeout))
    print(f"rounds done: {json.dumps(board.history)}", flush=True)
    if not args.exit_when_done:
        print("still serving the page and the global head; Ctrl-C stops", flush=True)
        stop = threading.Event()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signal_number, lambda *_: stop.set())
        stop.wait()
    http.shutdown()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="web/public/model", help="the web assets: the starting global head, and "
                        "what the page loads (default: %(default)s)")
    parser.add_argument("--page", default="web/dist", help="the built page (`npm --prefix web run build`; default: "
                                                           "%(default)s)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8090, help="HTTP: the page and the browsers' API "
                                                               "(default: %(default)s; 0: any free port)")
    parser.add_argument("--flower-port", type=int, default=8091, help="Flower's gRPC, for Python clients "
                                                                      "(default: %(default)s)")
    parser.add_argument("--clients", type=int, default=5, help="clients per round: a round starts when this many "
                                                               "have joined (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds to run (default: %(default)s)")
    parser.add_argument("--round-timeout", type=float, default=600.0, help="seconds a client has to send its update; "
                                                                           "late ones are failures (default: %(default)s)")
    parser.add_argument("--output", help="where to write the global head after each round (JSON)")
    parser.add_argument("--exit-when-done", action="store_true", help="exit after the last round instead of going on "
                                                                      "serving the page and the global head")
