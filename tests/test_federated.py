"""Federated averaging (tinydetect.federated): the update's wire format, and the server's rounds on Flower as HTTP
clients see them: bad updates rejected with the reason, FedAvg weighted by example counts, late updates refused."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from tinydetect.federated.process import get_json as call
from tinydetect.federated.process import launch_server, wait_for
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


def post(url: str, body: dict) -> tuple[int, dict]:
    try:
        return 200, call(url, body)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_the_server_averages_by_example_count_and_keeps_its_head_through_bad_updates(web_assets, web_page_dir,
                                                                                       tmp_path: Path):
    server, base, _ = launch_server(web_assets, web_page_dir, tmp_path / "server.log", 2, tmp_path / "head.json")
    try:
        start = Head.from_json(call(f"{base}/api/head"))
        assert post(f"{base}/api/update", {"client_id": "mallory", "round": 1, "num_examples": 1, "tensors": []})[0] == 403
        for client in ("a", "b"):
            assert post(f"{base}/api/register", {"client_id": client}) == (200, {"client_id": client, "registered": True})
        tasks = {client: wait_for(lambda c=client: (t := call(f"{base}/api/task?client_id={c}"))["status"] == "train"
                                  and t, f"client {client}'s task") for client in ("a", "b")}
        assert tasks["a"]["round"] == 1 and Head.from_json(tasks["a"]["head"]).weight.tolist() == start.weight.tolist()
        shapes = [array.shape for array in start.arrays()]
        good = {client: quantize([np.random.default_rng(seed).normal(0, 0.1, shape) for shape in shapes], 8)
                for seed, client in enumerate("ab")}

        nan_update = [good["a"][0].astype(np.float32) * np.nan, good["a"][1], good["a"][2]]
        for tensors, reason in [(to_wire(nan_update), "not all finite"), (to_wire(good["a"])[:1], "got 2 arrays")]:
            status, body = post(f"{base}/api/update", {"client_id": "a", "round": 1, "num_examples": 1,
                                                      "tensors": tensors})
            assert status == 400 and reason in body["error"] and "global head is unchanged" in body["error"]
        assert post(f"{base}/api/update", {"client_id": "a", "round": 2, "num_examples": 1,
                                           "tensors": to_wire(good["a"])})[0] == 409  # not this round
        assert Head.from_json(call(f"{base}/api/head")).weight.tolist() == start.weight.tolist()

        for client, examples in (("a", 1), ("b", 3)):
            status, body = post(f"{base}/api/update", {"client_id": client, "round": 1, "num_examples": examples,
                                                      "tensors": to_wire(good[client])})
            assert status == 200 and body["accepted"]
        wait_for(lambda: call(f"{base}/api/head")["round"] == 1, "the round to close")
        late, body = post(f"{base}/api/update", {"client_id": "b", "round": 1, "num_examples": 3,
                                                 "tensors": to_wire(good["b"])})
        assert late == 409 and "not open" in body["error"]

        deltas = {client: dequantize(update, shapes) for client, update in good.items()}
        expected = [base_array + (deltas["a"][i] * 1 + deltas["b"][i] * 3) / 4
                    for i, base_array in enumerate(start.arrays())]
        after = Head.from_json(call(f"{base}/api/head"))
        np.testing.assert_allclose(after.weight, expected[0], atol=1e-9)
        np.testing.assert_allclose(after.bias, expected[1], atol=1e-9)
        (report,) = call(f"{base}/api/status")["history"]
        assert report["examples"] == 4 and report["clients"] == 2 and report["head_changed"]
    finally:
        assert interrupt(server) == 0, (tmp_path / "server.log").read_text()[-2000:]
