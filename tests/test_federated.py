"""Federated averaging (tinydetect.federated): the update's wire format, and the server's rounds on Flower as HTTP
clients see them: bad updates rejected with the reason, FedAvg weighted by example counts, late updates refused."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from tinydetect.federated.process import TEST_TOKEN, interrupt_after_rounds, launch_server, wait_for
from tinydetect.federated.process import get_json as call
from tinydetect.federated.update import UpdateError, dequantize, from_wire, privatize, quantize, to_wire
from tinydetect.serving.process import interrupt
from tinydetect.web.head import Head

SHAPES = [(2, 5), (2,)]


def delta_of(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.1, shape) for shape in SHAPES]


@pytest.mark.parametrize("bits", [8, 32])
def test_a_quantized_delta_comes_back_within_half_a_step(bits):
    delta = delta_of(0)
    update = quantize(delta, bits)
    assert [array.dtype.name for array in update] == ["int8" if bits == 8 else "float32"] * 2 + ["float32"]
    restored = dequantize(from_wire(to_wire(update)), SHAPES)
    for before, after, scale in zip(delta, restored, update[-1], strict=True):
        np.testing.assert_allclose(after, before, atol=scale / 2 + 1e-6 if bits == 8 else 1e-7)


def test_clipping_cuts_the_norm_and_noise_has_the_asked_spread():
    rng = np.random.default_rng(0)
    delta = [np.full((2, 5), 3.0), np.full(2, 3.0)]
    clipped = privatize(delta, clip_norm=1.0, noise_multiplier=0.0, rng=rng)
    assert np.sqrt(sum(np.sum(t ** 2) for t in clipped)) == pytest.approx(1.0)
    noised = privatize([np.zeros((200, 50))], clip_norm=0.5, noise_multiplier=2.0, rng=rng)
    assert np.std(noised[0]) == pytest.approx(1.0, rel=0.05)
    assert privatize(delta, 0.0, 0.0, rng)[0].tolist() == delta[0].tolist()  # off: the delta as it was


@pytest.mark.parametrize(("update", "message"), [
    (lambda u: u[:-1], "2 tensors and their scales, got 2 arrays"),
    (lambda u: [u[0].reshape(5, 2), u[1], u[2]], "shape [5, 2], the head's is [2, 5]"),
    (lambda u: [u[0].astype(np.float32) * np.nan, u[1], u[2]], "not all finite"),
    (lambda u: [u[0], u[1], np.array([0.0, 1.0], dtype=np.float32)], "finite positive"),
    (lambda u: [u[0].astype(np.int64), u[1], u[2]], "dtype int64"),
])
def test_a_bad_update_is_rejected_with_its_reason(update, message):
    with pytest.raises(UpdateError, match=message.replace("[", r"\[").replace("]", r"\]")):
        dequantize(update(quantize(delta_of(1), 8)), SHAPES)


@pytest.mark.parametrize(("tensors", "message"), [
    ("nope", "non-empty list"),
    ([{"shape": [2], "dtype": "int8", "scale": 1.0}], "needs shape, dtype, scale and data"),
    ([{"shape": [2], "dtype": "int16", "scale": 1.0, "data": "AAA="}], "dtype 'int16'"),
    ([{"shape": [2], "dtype": "int8", "scale": 1.0, "data": "!!"}], "tensors\\[0\\]"),
    ([{"shape": [3], "dtype": "int8", "scale": 1.0, "data": "AAA="}], "2 values for shape \\[3\\]"),
])
def test_a_malformed_wire_update_names_the_problem(tensors, message):
    with pytest.raises(UpdateError, match=message):
        from_wire(tensors)


def post(url: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    try:
        return 200, call(url, body, token=token)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def get(url: str, token: str | None = None) -> tuple[int, dict]:
    try:
        return 200, call(url, token=token)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def enrol(base: str) -> tuple[str, str]:
    """Register as a browser does: (the client id and the secret the server issued)."""
    status, body = post(f"{base}/api/register", {}, TEST_TOKEN)
    assert status == 200 and body["registered"], body
    return body["client_id"], body["secret"]


def open_task(base: str, client_id: str, secret: str) -> dict:
    return wait_for(lambda: (t := call(f"{base}/api/task?client_id={client_id}", token=secret))["status"] == "train"
                    and t, f"client {client_id}'s task")


def send(base: str, client_id: str, secret: str, server_round: int, examples: int, update) -> tuple[int, dict]:
    return post(f"{base}/api/update", {"client_id": client_id, "round": server_round, "num_examples": examples,
                                       "tensors": update if isinstance(update, list) and isinstance(update[0], dict)
                                       else to_wire(update)}, secret)


def test_the_server_averages_by_example_count_and_keeps_its_head_through_bad_updates(web_assets, web_page_dir,
                                                                                       tmp_path: Path):
    server, base, _ = launch_server(web_assets, web_page_dir, tmp_path / "server.log", 2, tmp_path / "head.json")
    try:
        start = Head.from_json(call(f"{base}/api/head"))
        clients = dict(enrol(base) for _ in range(2))  # client id -> secret
        (a, a_secret), (b, b_secret) = clients.items()
        tasks = {client: open_task(base, client, secret) for client, secret in clients.items()}
        assert tasks[a]["round"] == 1 and Head.from_json(tasks[a]["head"]).weight.tolist() == start.weight.tolist()
        shapes = [array.shape for array in start.arrays()]
        good = {client: quantize([np.random.default_rng(seed).normal(0, 0.1, shape) for shape in shapes], 8)
                for seed, client in enumerate(clients)}

        nan_update = [good[a][0].astype(np.float32) * np.nan, good[a][1], good[a][2]]
        for tensors, reason in [(to_wire(nan_update), "not all finite"), (to_wire(good[a])[:1], "got 2 arrays")]:
            status, body = send(base, a, a_secret, 1, 1, tensors)
            assert status == 400 and reason in body["error"] and "global head is unchanged" in body["error"]
        assert send(base, a, a_secret, 2, 1, good[a])[0] == 409  # not this round
        assert Head.from_json(call(f"{base}/api/head")).weight.tolist() == start.weight.tolist()

        for client, examples in ((a, 1), (b, 3)):
            status, body = send(base, client, clients[client], 1, examples, good[client])
            assert status == 200 and body["accepted"]
        wait_for(lambda: call(f"{base}/api/head")["round"] == 1, "the round to close")
        late, body = send(base, b, b_secret, 1, 3, good[b])
        assert late == 409 and "not open" in body["error"]

        deltas = {client: dequantize(update, shapes) for client, update in good.items()}
        expected = [base_array + (deltas[a][i] * 1 + deltas[b][i] * 3) / 4
                    for i, base_array in enumerate(start.arrays())]
        after = Head.from_json(call(f"{base}/api/head"))
        np.testing.assert_allclose(after.weight, expected[0], atol=1e-9)
        np.testing.assert_allclose(after.bias, expected[1], atol=1e-9)
        (report,) = call(f"{base}/api/status", token=TEST_TOKEN)["history"]
        assert report["examples"] == 4 and report["clients"] == 2 and report["head_changed"]
    finally:
        assert interrupt_after_rounds(server, tmp_path / "server.log") == 0, (tmp_path / "server.log").read_text()[-2000:]


def test_strangers_and_impersonators_change_nothing(web_assets, web_page_dir, tmp_path: Path):
    server, base, _ = launch_server(web_assets, web_page_dir, tmp_path / "server.log", 2)
    try:
        assert post(f"{base}/api/register", {"client_id": "mallory"})[0] == 401  # no token
        assert post(f"{base}/api/register", {}, "guessed-token-0123456789")[0] == 401
        assert get(f"{base}/api/status")[0] == 401  # who is connected is the operator's business
        (bob, bob_secret), (mallory, mallory_secret) = enrol(base), enrol(base)
        assert "browsers" not in call(f"{base}/api/status", token=TEST_TOKEN)
        open_task(base, bob, bob_secret)
        task = open_task(base, mallory, mallory_secret)
        shapes = [np.asarray(task["head"]["weight"]).shape, np.asarray(task["head"]["bias"]).shape]
        update = quantize([np.ones(shape) for shape in shapes], 8)
        status, body = send(base, bob, mallory_secret, 1, 1, update)  # mallory's secret, bob's name
        assert status == 403 and "another client" in body["error"]
        assert send(base, bob, "made-up-secret", 1, 1, update)[0] == 403
        assert get(f"{base}/api/task?client_id={bob}", mallory_secret)[0] == 403
        assert send(base, bob, bob_secret, 1, 1, update)[0] == 200  # bob himself still can
    finally:
        interrupt(server)


def test_one_poisoned_update_moves_the_head_at_most_the_clip_norm_from_the_honest_average(web_assets, web_page_dir,
                                                                                          tmp_path: Path):
    clip = 1.0
    server, base, _ = launch_server(web_assets, web_page_dir, tmp_path / "server.log", 3,
                                    options=("--clip-norm", str(clip), "--max-examples", "100"))
    try:
        start = Head.from_json(call(f"{base}/api/head"))
        shapes = [array.shape for array in start.arrays()]
        clients = [enrol(base) for _ in range(3)]
        for client, secret in clients:
            open_task(base, client, secret)
        honest = [[np.random.default_rng(seed).normal(0, 0.01, shape) for shape in shapes] for seed in range(2)]
        for (client, secret), delta in zip(clients, honest, strict=False):
            assert send(base, client, secret, 1, 100, quantize(delta, 32))[0] == 200
        huge = [np.full(shape, 3e38, dtype=np.float32) for shape in shapes] + [np.full(2, 3e38, dtype=np.float32)]
        assert send(base, *clients[2], 1, 10**30, huge)[0] == 200  # accepted, then bounded by the server
        wait_for(lambda: call(f"{base}/api/head")["round"] == 1, "the round to close")
        after = Head.from_json(call(f"{base}/api/head")).arrays()
        honest_average = [start_array + (honest[0][i] + honest[1][i]) / 2 for i, start_array in enumerate(start.arrays())]
        distance = np.sqrt(sum(np.sum((got - want) ** 2) for got, want in zip(after, honest_average, strict=True)))
        assert np.isfinite(distance) and distance <= clip, distance
        (report,) = call(f"{base}/api/status", token=TEST_TOKEN)["history"]
        assert report["examples"] == 300 and max(report["update_norms"].values()) > 1e70  # seen, capped, clipped
    finally:
        interrupt(server)


def raw_request(base: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict]:
    """One request exactly as given (http.client checks no header), and the server's answer: never a hang-up."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        if body:
            connection.send(body)
        response = connection.getresponse()
        payload = response.read()
        return response.status, dict(response.getheaders()) | {"body": payload[:300]}
    finally:
        connection.close()


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(("method", "path", "headers", "body", "status"), [
    ("POST", "/api/register", {**JSON, "Content-Length": "-1"}, b"", 400),
    ("POST", "/api/register", {**JSON, "Content-Length": "abc"}, b"", 400),
    ("POST", "/api/register", {**JSON, "Content-Length": "9000000"}, b"{}", 413),
    ("POST", "/api/update", {**JSON, "Content-Length": "100000"}, b"[" * 100_000, 400),
    ("POST", "/api/update", {**JSON, "Content-Length": "5011"}, b'{"round": ' + b"9" * 5000 + b"}", 400),
    ("POST", "/api/register", {"Content-Type": "text/plain", "Content-Length": "2"}, b"{}", 415),
    ("POST", "/api/register", {**JSON, "Origin": "http://evil.example", "Content-Length": "2"}, b"{}", 403),
    ("POST", "/api/register", {"Content-Type": "text/plain", "Origin": "http://evil.example", "Content-Length": "2"},
     b"{}", 403),
    ("OPTIONS", "/api/register", {"Origin": "http://evil.example"}, b"", 403),
    ("GET", "/%00", {}, b"", 400),
    ("GET", "/model/../", {}, b"", 404),
    ("GET", "/model/", {}, b"", 404),
    ("GET", "/assets/", {}, b"", 404),
])
def test_every_malformed_or_foreign_request_gets_an_answer_and_no_cors_header(fl_server, method, path, headers, body,
                                                                              status):
    got, answer = raw_request(fl_server, method, path, headers, body)
    assert got == status, answer
    assert "Access-Control-Allow-Origin" not in answer and b"Traceback" not in answer["body"]


def test_an_overflowing_shape_is_refused(fl_server):
    client, secret = enrol(fl_server)
    tensor = {"shape": [2**32, 2**32, 2], "dtype": "int8", "scale": 1.0, "data": "AAA="}
    status, body = send(fl_server, client, secret, 1, 1, [tensor, tensor])
    assert status == 400 and "shape" in body["error"]


def test_registrations_past_the_cap_are_refused_and_idle_browsers_make_room(fl_server):
    host, port = fl_server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)  # one kept-alive connection, as a flood would
    statuses = []
    for _ in range(FLOOD):
        connection.request("POST", "/api/register", b"{}", {**JSON, "Authorization": f"Bearer {TEST_TOKEN}"})
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    connection.close()
    # a few more than the cap may get in over the flood: clients idle past FL_IDLE_S make room as they go
    assert set(statuses) == {200, 503} and statuses.count(503) >= 0.9 * FLOOD
    assert call(f"{fl_server}/api/status", token=TEST_TOKEN)["clients_connected"] <= FL_MAX_CLIENTS
    time.sleep(FL_IDLE_S + 0.5)  # none of them polled for a task since: idle, dropped at the next registration
    enrol(fl_server)
    assert call(f"{fl_server}/api/status", token=TEST_TOKEN)["clients_connected"] == 1


FL_MAX_CLIENTS, FL_IDLE_S = 4, 2.0
FLOOD = 2_000  # registrations from one connection: 20,000 took the old server 12.7 s and 95 MB


@pytest.fixture(scope="module")
def fl_server(web_assets, web_page_dir, tmp_path_factory):
    """A server whose round never starts (it waits for 50 clients), for requests that must each get an answer."""
    folder = tmp_path_factory.mktemp("fl")
    server, base, _ = launch_server(web_assets, web_page_dir, folder / "server.log", 50,
                                    options=("--max-clients", str(FL_MAX_CLIENTS), "--idle-timeout", str(FL_IDLE_S)))
    yield base
    assert interrupt(server) == 0, (folder / "server.log").read_text()[-2000:]


def test_a_browser_that_misses_its_round_is_dropped(web_assets, web_page_dir, tmp_path: Path):
    server, base, _ = launch_server(web_assets, web_page_dir, tmp_path / "server.log", 1, round_timeout=2.0)
    try:
        client, secret = enrol(base)
        open_task(base, client, secret)  # then silent
        status = wait_for(lambda: (s := call(f"{base}/api/status", token=TEST_TOKEN))["history"] and s,
                          "the round to time out", timeout=60)
        assert status["clients_connected"] == 0 and "dropped" in status["history"][0]["failures"][0]
        assert get(f"{base}/api/task?client_id={client}", secret)[0] == 403
    finally:
        interrupt(server)
