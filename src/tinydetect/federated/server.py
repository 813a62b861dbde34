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

Who may change the global head: only clients enrolled with the operator's secret (`--token-file`; a random one is
made and printed when none is given). A browser registers with it (`Authorization: Bearer <token>`) and gets an id
and a secret of its own, which every later call carries: an update is taken only from the client its task was
given to. A Python client sends the token with its result through Flower. What one client can do to the head is
bounded on the server, whatever the client does: each update's norm is clipped by Flower's server-side fixed
clipping (`--clip-norm`), its example count weighs at most `--max-examples`, and the average may be a robust one
(`--aggregate`: Flower's FedMedian, FedTrimmedAvg or Krum). Registrations are capped (`--max-clients`); a browser
that stops polling or misses a round is dropped. Cross-origin requests are refused unless `--allow-origin` names
the origin.
"""

from __future__ import annotations

import os

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")  # Flower reports usage events over the network unless told not to

import argparse
import hmac
import json
import logging
import queue
import secrets
import signal
import threading
import time
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
from flwr.server.strategy import (
    DifferentialPrivacyServerSideFixedClipping,
    FedAvg,
    FedMedian,
    FedTrimmedAvg,
    Krum,
    Strategy,
)

from tinydetect.core.errors import UserError
from tinydetect.core.files import write_json
from tinydetect.federated.process import SERVING_AFTER_ROUNDS
from tinydetect.federated.update import UpdateError, dequantize, from_wire, wire_bytes
from tinydetect.web.head import Head
from tinydetect.web.http import PageHandler, start_page_server
from tinydetect.web.scorer import HEAD_FILE

log = logging.getLogger("tinydetect.federated")
MAX_BODY_BYTES = 8_000_000
ROUND_KEY = "server_round"
TOKEN_KEY = "token"  # a Python client's enrolment token, in the metrics of its fit result
MIN_TOKEN_CHARS = 16
AGGREGATES = {"fedavg": FedAvg, "median": FedMedian, "trimmed-mean": FedTrimmedAvg, "krum": Krum}


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

    def __init__(self, cid: str, secret: str, manager: EnrolledClientManager):
        super().__init__(cid)
        self.secret, self.manager = secret, manager
        self.last_seen = time.monotonic()
        self._task: tuple[int, list[np.ndarray]] | None = None  # the open round and its global [weight, bias]
        self._updates: queue.Queue = queue.Queue(maxsize=1)
        self._lock = threading.Lock()

    def task(self) -> tuple[int, list[np.ndarray]] | None:
        """The open round and its head, if any; asking counts as a sign of life."""
        self.last_seen = time.monotonic()
        return self.open_task()

    def open_task(self) -> tuple[int, list[np.ndarray]] | None:
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
            self.manager.unregister(self)  # gone: later rounds must not wait for it again
            raise TimeoutError(f"browser {self.cid} sent no update for round {server_round} in {timeout} s; "
                               "dropped") from None
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


class EnrolledClientManager(SimpleClientManager):
    """Flower's client manager with a cap on clients, which drops browsers that stopped polling for a task."""

    def __init__(self, max_clients: int, idle_seconds: float):
        super().__init__()
        self.max_clients, self.idle_seconds = max_clients, idle_seconds
        self._register_lock = threading.Lock()

    def register(self, client: ClientProxy) -> bool:
        with self._register_lock:
            self.drop_idle()
            if len(self.clients) >= self.max_clients:
                log.warning("client %s refused: %d clients, the most --max-clients allows", client.cid, len(self.clients))
                return False
            return super().register(client)

    def drop_idle(self) -> None:
        now = time.monotonic()
        for proxy in list(self.clients.values()):
            if (isinstance(proxy, BrowserClientProxy) and proxy.open_task() is None
                    and now - proxy.last_seen > self.idle_seconds):
                self.unregister(proxy)

    def sample(self, num_clients: int, min_num_clients: int | None = None, criterion=None) -> list[ClientProxy]:
        self.drop_idle()
        return super().sample(num_clients, min_num_clients, criterion)

    def browser(self, secret: str) -> BrowserClientProxy | None:
        """The browser this secret was issued to (compared in constant time), or None."""
        for proxy in list(self.clients.values()):
            if isinstance(proxy, BrowserClientProxy) and hmac.compare_digest(proxy.secret, secret):
                return proxy
        return None


@dataclass(frozen=True)
class Defences:
    """What bounds one client's pull on the global head, whoever it is."""

    token: str  # the enrolment secret
    clip_norm: float = 5.0  # each update's L2 norm, cut on the server (Flower's server-side fixed clipping)
    max_examples: int = 1000  # an update weighs at most this many examples in the average
    aggregate: str = "fedavg"  # fedavg, median, trimmed-mean or krum (Flower's strategies)


def build_strategy(board: RoundBoard, clients: int, defences: Defences) -> CheckedDeltas:
    """Flower's averaging strategy, behind Flower's server-side clipping, behind our checks of each delta."""
    options = {"fraction_fit": 1.0, "min_fit_clients": clients, "min_available_clients": clients,
               "fraction_evaluate": 0.0, "min_evaluate_clients": 0, "accept_failures": True,
               "initial_parameters": ndarrays_to_parameters(board.head.arrays()),
               "on_fit_config_fn": lambda server_round: {ROUND_KEY: server_round}}
    if defences.aggregate == "krum":
        options["num_malicious_clients"] = max(0, (clients - 3) // 2)  # Krum scores need n > 2f + 2
    average = AGGREGATES[defences.aggregate](**options)
    clipped = DifferentialPrivacyServerSideFixedClipping(average, noise_multiplier=0.0,
                                                         clipping_norm=defences.clip_norm, num_sampled_clients=clients)
    return CheckedDeltas(board, clipped, defences)


class CheckedDeltas(Strategy):
    """Checks each client's delta, turns it into the client's head (global + delta) and hands the heads on.

    A Flower client without the enrolment token, a delta that is not finite or has the wrong shape, are left out
    and named in the round's report. Example counts are capped before the average weighs them.
    """

    def __init__(self, board: RoundBoard, strategy: Strategy, defences: Defences):
        super().__init__()
        self.board, self.strategy, self.defences = board, strategy, defences

    def initialize_parameters(self, client_manager):
        return self.strategy.initialize_parameters(client_manager)

    def configure_fit(self, server_round, parameters, client_manager):
        return self.strategy.configure_fit(server_round, parameters, client_manager)

    def configure_evaluate(self, server_round, parameters, client_manager):
        return []  # federated evaluation is off: browsers report accuracy to their users, not the server

    def aggregate_evaluate(self, server_round, results, failures):
        return None, {}

    def evaluate(self, server_round, parameters):
        return None

    def aggregate_fit(self, server_round, results, failures):
        base = self.board.head.arrays()
        heads, rejected, sent, norms = [], {}, {}, {}
        for proxy, result in results:
            metrics = dict(result.metrics)
            token = str(metrics.pop(TOKEN_KEY, ""))
            sent[proxy.cid] = int(metrics.get("bytes_sent", 0)) or _parameter_bytes(result.parameters)
            try:
                if not isinstance(proxy, BrowserClientProxy) and not hmac.compare_digest(token, self.defences.token):
                    raise UpdateError("the client did not send the enrolment token")
                delta = dequantize(parameters_to_ndarrays(result.parameters), [array.shape for array in base])
            except UpdateError as error:
                log.warning("round %s: update of client %s rejected: %s", server_round, proxy.cid, error)
                rejected[proxy.cid] = str(error)
                continue
            norms[proxy.cid] = round(float(np.sqrt(sum(np.sum(change ** 2) for change in delta))), 6)
            head = ndarrays_to_parameters([start + change for start, change in zip(base, delta, strict=True)])
            examples = min(result.num_examples, self.defences.max_examples)
            heads.append((proxy, FitRes(result.status, head, examples, metrics)))
        report = {"clients": len(results), "failures": [str(failure) for failure in failures], "rejected": rejected,
                  "bytes_sent": sent, "update_norms": norms, "clip_norm": self.defences.clip_norm,
                  "examples": sum(result.num_examples for _, result in heads)}
        if not heads:
            self.board.close_round(server_round, None, report)
            return None, {}
        # failures are not handed on: Flower's DP wrapper drops the whole round on one (its privacy accounting
        # expects every sampled client); clipping does not need that, and the report names each failure
        parameters, metrics = self.strategy.aggregate_fit(server_round, heads, [])
        self.board.close_round(server_round, self.board.head.with_arrays(parameters_to_ndarrays(parameters)), report)
        return parameters, metrics


def _parameter_bytes(parameters: Parameters) -> int:
    return sum(len(tensor) for tensor in parameters.tensors)


class FederatedHandler(PageHandler):
    """The page and its assets (PageHandler), and the API browsers use to join rounds.

    GET /api/head is public (every page loads the global head); GET /api/status takes the operator's token;
    POST /api/register takes the token and answers the client's id and secret; GET /api/task and POST /api/update
    take the client's secret. Every answer is JSON, bad requests included: a client never sees a dropped connection.
    """

    board: RoundBoard
    client_manager: EnrolledClientManager

    def __init__(self, *args, board: RoundBoard, client_manager: EnrolledClientManager, defences: Defences,
                 allowed_origins: frozenset[str] = frozenset(), **kwargs):
        self.board, self.client_manager, self.defences = board, client_manager, defences
        self.allowed_origins = allowed_origins
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
            self.send_json(404, {"error": f"no such endpoint: POST {self.path[:200]}"})
            return
        self.answer(lambda: route(self.read_body()))

    def do_OPTIONS(self) -> None:
        if self.cross_origin() is not None:
            self.send_json(403, {"error": "cross-origin requests are refused (the server's --allow-origin)"})
            return
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Content-Type, Authorization")
        self.end_headers()

    def end_headers(self) -> None:
        origin = self.headers.get("Origin") if self.headers else None
        if origin and origin in self.allowed_origins:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")
        super().end_headers()

    def cross_origin(self) -> str | None:
        """The request's Origin when it is another site's and not allowed; None for the page's own and allowed ones.

        Browsers send a `text/plain` POST from any page without asking first: the Origin check is what stops a web
        page the operator opens from driving this server.
        """
        origin = self.headers.get("Origin")
        if origin is None or origin in self.allowed_origins or origin == f"http://{self.headers.get('Host')}":
            return None
        return origin

    def answer(self, route) -> None:
        try:
            origin = self.cross_origin()
            if origin is not None:
                raise Rejected(403, f"cross-origin request from {origin[:100]} refused (the server's --allow-origin)")
            self.send_json(200, route())
        except Rejected as error:
            challenge = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
            self.send_json(error.status, {"error": str(error)}, challenge)
        except UpdateError as error:
            self.send_json(400, {"error": f"update rejected: {error}; the global head is unchanged"})
        except Exception:  # a bug must cost one request an error, never the connection or a traceback to the client
            log.exception("%s %s failed", self.command, self.path[:200])
            self.send_json(500, {"error": "internal error (logged by the server)"})

    def read_body(self) -> dict:
        """The JSON object in the body; 400 for a bad Content-Length or JSON, 413 past the cap, 415 if not JSON."""
        if self.headers.get_content_type() != "application/json":
            self.close_connection = True  # the body is left unread
            raise Rejected(415, "the body must be JSON (Content-Type: application/json)")
        length = self.body_size
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise Rejected(413, f"body of {length} bytes: at most {MAX_BODY_BYTES}")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, RecursionError) as error:  # bad JSON or UTF-8, a 5,000-digit number, deep nesting
            raise Rejected(400, f"the body is not JSON this server reads: {str(error)[:200]}") from None
        if not isinstance(body, dict):
            raise Rejected(400, "the body must be a JSON object")
        return body

    @property
    def body_size(self) -> int:
        """Bytes of this request's body from its Content-Length (0 when absent); 400 unless a plain number."""
        raw = self.headers.get("Content-Length", "0").strip()
        if not (raw.isascii() and raw.isdigit()):
            self.close_connection = True
            raise Rejected(400, f"Content-Length must be a non-negative integer, got {raw[:40]!r}")
        return int(raw)

    def bearer(self) -> str:
        scheme, _, credential = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Rejected(401, "this call needs Authorization: Bearer <token>")
        return credential.strip()

    def require_operator(self) -> None:
        if not hmac.compare_digest(self.bearer(), self.defences.token):
            raise Rejected(401, "wrong enrolment token")

    def client(self, claimed_id: object = None) -> BrowserClientProxy:
        """The browser the request's secret belongs to; 403 if it claims to be another."""
        proxy = self.client_manager.browser(self.bearer())
        if proxy is None:
            raise Rejected(403, "unknown client secret (dropped after a missed round or idle?): POST /api/register")
        if claimed_id not in (None, proxy.cid):
            raise Rejected(403, f"this secret belongs to another client than {str(claimed_id)[:128]!r}")
        return proxy

    def global_head(self, query: dict) -> dict:
        with self.board.lock:
            return {"round": self.board.completed_round, **self.board.head.to_json()}

    def status(self, query: dict) -> dict:
        self.require_operator()
        with self.board.lock:
            history, completed_round = list(self.board.history), self.board.completed_round
        return {"completed_round": completed_round, "history": history,
                "clients_connected": len(self.client_manager.all())}

    def task(self, query: dict) -> dict:
        task = self.client(query.get("client_id", [None])[0]).task()
        if task is None:
            return {"status": "wait", "round": self.board.completed_round}
        server_round, (weight, bias) = task
        return {"status": "train", "round": server_round, "head": {"weight": weight.tolist(), "bias": bias.tolist()}}

    def register(self, body: dict) -> dict:
        self.require_operator()
        proxy = BrowserClientProxy(f"browser-{secrets.token_hex(8)}", secrets.token_urlsafe(24), self.client_manager)
        if not self.client_manager.register(proxy):
            raise Rejected(503, f"the server holds its most clients ({self.client_manager.max_clients}); try later")
        return {"client_id": proxy.cid, "secret": proxy.secret, "registered": True}

    def update(self, body: dict) -> dict:
        proxy = self.client(body.get("client_id"))
        num_examples = body.get("num_examples")
        if not isinstance(num_examples, int) or num_examples <= 0:
            raise UpdateError(f"num_examples must be a positive integer, got {str(num_examples)[:40]!r}")
        server_round = body.get("round")
        if not isinstance(server_round, int):
            raise UpdateError(f"round must be an integer, got {str(server_round)[:40]!r}")
        update = from_wire(body.get("tensors"))
        proxy.submit(server_round, update, num_examples, self.body_size)
        return {"accepted": True, "round": server_round, "bytes": self.body_size, "update_bytes": wire_bytes(update)}


def enrolment_token(path: str | None) -> str:
    """The operator's secret from `path`, or a new random one when no file is given."""
    if path is None:
        return secrets.token_urlsafe(24)
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"--token-file {path}: cannot read it ({error})") from None
    if len(token) < MIN_TOKEN_CHARS:
        raise UserError(f"--token-file {path}: the token has {len(token)} characters, at least {MIN_TOKEN_CHARS} "
                        "needed (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))' > FILE`)")
    return token


def serve(args: argparse.Namespace) -> None:
    board = RoundBoard(Head.from_json(json.loads((Path(args.model) / HEAD_FILE).read_text())),
                       Path(args.output) if args.output else None)
    defences = Defences(enrolment_token(args.token_file), args.clip_norm, args.max_examples, args.aggregate)
    client_manager = EnrolledClientManager(args.max_clients, args.idle_timeout)
    http = start_page_server(args.page, args.model, args.host, args.port, FederatedHandler, board=board,
                             client_manager=client_manager, defences=defences,
                             allowed_origins=frozenset(args.allow_origin))
    print(f"page and API on http://{args.host}:{http.server_port}/ ; Flower on {args.host}:{args.flower_port}; "
          f"waiting for {args.clients} clients per round, {args.rounds} round(s)", flush=True)
    if args.token_file is None:
        print(f"enrolment token (no --token-file given): {defences.token}\n  browsers join at "
              f"http://{args.host}:{http.server_port}/?fl_token={defences.token}", flush=True)
    start_server(server_address=f"{args.host}:{args.flower_port}",
                 server=Server(client_manager=client_manager, strategy=build_strategy(board, args.clients, defences)),
                 config=ServerConfig(num_rounds=args.rounds, round_timeout=args.round_timeout))
    print(f"rounds done: {json.dumps(board.history)}", flush=True)
    if not args.exit_when_done:
        # The handler only appends to a list: setting a threading.Event from a signal handler deadlocks when the
        # signal lands while the main thread holds the Event's lock inside wait(), which a test run did hit.
        stop: list[int] = []
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signal_number, lambda number, _frame: stop.append(number))
        print(SERVING_AFTER_ROUNDS, flush=True)  # said once Ctrl-C is ours again (Flower's while its rounds ran)
        while not stop:
            time.sleep(0.2)  # a signal ends the sleep early
    http.shutdown()
    print("stopped", flush=True)


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
    parser.add_argument("--token-file", help="file holding the enrolment secret clients must present (at least "
                        f"{MIN_TOKEN_CHARS} characters; default: a random one, printed at start)")
    parser.add_argument("--max-clients", type=int, default=100, help="clients registered at once, at most "
                                                                    "(default: %(default)s)")
    parser.add_argument("--idle-timeout", type=float, default=60.0, help="seconds after which a browser that stopped "
                        "polling for its task is dropped (default: %(default)s)")
    parser.add_argument("--clip-norm", type=float, default=Defences.clip_norm, help="each update's L2 norm is cut to "
                        "this on the server, whatever the client did (default: %(default)s)")
    parser.add_argument("--max-examples", type=int, default=Defences.max_examples, help="an update weighs at most "
                        "this many examples in the average (default: %(default)s)")
    parser.add_argument("--aggregate", choices=sorted(AGGREGATES), default="fedavg", help="fedavg (weighted mean), or "
                        "a robust one: median, trimmed-mean (20%% each side), krum (default: %(default)s)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN", help="another origin whose "
                        "pages may call the API (e.g. https://example.org); repeatable; default: only the page's own")
