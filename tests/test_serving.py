"""`tinydetect serve`: Triton (through PyTriton) on loopback, started and stopped here, against `tinydetect predict`.

Needs the serving venv (`make test` makes it: requirements-serve.txt); the stock-server repository is checked by
reading its config.pbtxt back through Triton's model-config protobuf.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from tinydetect.cli.main import main as tinydetect
from tinydetect.core.config import ServeConfig
from tinydetect.core.errors import UserError
from tinydetect.core.files import iter_jsonl
from tinydetect.decision.threshold import TOO_SHORT, UNSEEN_SCRIPT
from tinydetect.runtime.onnx_scorer import OnnxScorer
from tinydetect.runtime.variants import variant_named
from tinydetect.serving import client as triton
from tinydetect.serving.process import served
from tinydetect.serving.repository import export_onnx_repository, read_config
from tinydetect.serving.server import check_model

from .conftest import ENGLISH_SENTENCES, KOREAN_SENTENCES

MAX_BATCH = 8
# with two the cuts say nothing about: too short, and a script the model has no cut for (UNSURE with a reason)
TEXTS = [f"{english} {number}" for number, english in enumerate(ENGLISH_SENTENCES * 4)] + KOREAN_SENTENCES + [
    "Two words", "Это текст на русском языке"]


@pytest.fixture(scope="module")
def server(onnx_model, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "server.log"
    with served(onnx_model, log, "--max-batch-size", str(MAX_BATCH), "--max-queue-delay-us", "20000",
                "--max-text-bytes", "1000", "--params", "no-params.yaml") as process:
        yield process
    assert process.process.returncode == 0, log.read_text()[-2000:]
    assert process.get("/v2/health/live")[0] == 0, "still answering after Ctrl-C"


def predicted(model: Path, texts: list[str], tmp_path: Path) -> list[dict]:
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    tinydetect(["predict", "--model", str(model), str(tmp_path / "texts.txt"), "--output", str(tmp_path / "out.jsonl")])
    return [row for _, row in iter_jsonl(tmp_path / "out.jsonl")]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_served_scores_equal_predict(server, onnx_model, tmp_path, protocol):
    url = server.url(protocol)
    p_ai, labels, reasons = triton.score_with_reasons(triton.connect(protocol, url), TEXTS[:MAX_BATCH])
    rest = [triton.score_with_reasons(triton.connect(protocol, url), [text]) for text in TEXTS[MAX_BATCH:]]
    p_ai = np.concatenate([p_ai, *[p for p, _, _ in rest]])
    labels = labels + [label for _, [label], _ in rest]
    reasons = reasons + [reason for _, _, [reason] in rest]
    expected = predicted(onnx_model, TEXTS, tmp_path)
    assert np.abs(p_ai - [row["p_ai"] for row in expected]).max() < 1e-5
    assert np.abs(p_ai - OnnxScorer(onnx_model).probability_ai(TEXTS)).max() < 1e-6
    assert labels == [row["label"] for row in expected]  # one rule, every surface: AI, HUMAN or UNSURE
    assert reasons == [row["reason"] or "" for row in expected]
    assert labels[-2:] == ["UNSURE", "UNSURE"] and reasons[-2:] == [TOO_SHORT, UNSEEN_SCRIPT]


BAD_REQUESTS = {
    "empty": ([b""], "text 1 of this request is empty"),
    "white space only": ([b"fine", b"  \n"], "text 2 of this request is empty"),
    "not UTF-8": ([b"caf\xe9"], "text 1 of this request is not UTF-8 (byte 0xe9 at offset 3)"),
    "1 MB": ([b"a" * 1_000_000], "text 1 of this request is 1000000 bytes, over the server's limit of 1000"),
    "too many texts": ([b"x"] * (MAX_BATCH + 1), "batch-size must be <= 8"),
}


@pytest.mark.parametrize("kind", BAD_REQUESTS)
def test_bad_input_gets_a_400_naming_the_problem(server, kind):
    texts, message = BAD_REQUESTS[kind]
    with pytest.raises(InferenceServerException) as refused:
        triton.score(triton.connect("http", server.http_url), texts)
    assert refused.value.status() == "400"
    assert message in refused.value.message()


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_wrong_tensor_name_or_type_is_refused(server, protocol):
    client = triton.connect(protocol, server.url(protocol))
    with pytest.raises(InferenceServerException, match="unexpected inference input 'texts'") as wrong_name:
        client.infer("tinydetect", [triton.text_input(client, ["a"], name="texts")])
    module = type(client).__module__.rsplit(".", 1)[0]
    numbers = __import__(module, fromlist=["InferInput"]).InferInput("text", [1, 1], "INT64")
    numbers.set_data_from_numpy(np.array([[7]], dtype=np.int64))
    with pytest.raises(InferenceServerException, match=r"expects 'BYTES'") as wrong_type:
        client.infer("tinydetect", [numbers])
    expected_status = "400" if protocol == "http" else "StatusCode.INVALID_ARGUMENT"
    assert wrong_name.value.status() == wrong_type.value.status() == expected_status


def test_hundreds_of_concurrent_requests_mixed_with_bad_ones_are_batched_and_answered_right(server, onnx_model):
    """300 gRPC requests from 32 threads, every fifth a bad one: each good answer equals the direct ONNX score."""
    expected = dict(zip(TEXTS, OnnxScorer(onnx_model).probability_ai(TEXTS), strict=True))

    def one(number: int):
        with closing(triton.connect("grpc", server.grpc_url)) as client:  # gRPC: the HTTP client's gevent pool is
            return answer(client, number)                                 # per thread, its __del__ is not

    def answer(client, number: int):
        if number % 5 == 0:
            try:
                triton.score(client, [b"\xff" * 3])
            except InferenceServerException as error:
                return error.status()
            return "accepted"
        text = TEXTS[number % len(TEXTS)]
        return abs(float(triton.score(client, [text])[0][0]) - expected[text])

    before = executions(server)
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(one, range(300)))
    assert answers[::5] == ["StatusCode.INVALID_ARGUMENT"] * 60
    good = [answer for number, answer in enumerate(answers) if number % 5]
    assert len(good) == 240 and max(good) < 1e-5
    assert executions(server) - before < 240, "no two good requests were batched together"
    assert server.ready()


def executions(server) -> int:
    """Model executions Triton has run (its Prometheus counter): fewer than requests means dynamic batching."""
    status, metrics = server.get("/metrics", server.metrics_port)
    assert status == 200
    found = re.search(r'^nv_inference_exec_count\{model="tinydetect",version="1"\} (\d+)', metrics, re.MULTILINE)
    assert found, metrics[:500]
    return int(found.group(1))


def test_health_and_the_model_config_are_triton_s(server):
    assert server.get("/v2/health/live")[0] == 200
    status, body = server.get("/v2/models/tinydetect/config")
    config = json.loads(body)
    assert status == 200 and config["max_batch_size"] == MAX_BATCH
    assert config["dynamic_batching"]["max_queue_delay_microseconds"] == 20000
    assert [tensor["name"] for tensor in config["output"]] == ["p_ai", "label", "reason"]


def test_serve_refuses_what_it_cannot_serve(tmp_path):
    with pytest.raises(UserError, match="serves ONNX variants"):
        check_model(Path("models/detector"))
    with pytest.raises(UserError, match="no such ONNX model"):
        check_model(tmp_path / "missing.onnx")


def test_the_stock_server_repository_reads_back_through_triton_s_protobuf(onnx_model, tmp_path, monkeypatch):
    folder = onnx_model.parent
    variant = variant_named("pruned_onnx_int8")
    variant = type(variant)(**{**variant.__dict__, "path": str(onnx_model)})  # the tiny model in the registry's shape
    config_path = export_onnx_repository(variant, tmp_path / "triton", ServeConfig(max_batch_size=16, instances=2))
    config = read_config(config_path)
    assert config.name == "pruned_onnx_int8" and config.backend == "onnxruntime"
    assert [(t.name, list(t.dims)) for t in config.input] == [("input_ids", [32]), ("attention_mask", [32])]
    assert [(t.name, list(t.dims)) for t in config.output] == [("logits", [2])]
    assert config.max_batch_size == 16 and config.instance_group[0].count == 2
    assert config.parameters["intra_op_thread_count"].string_value == "1"
    assert (config_path.parent / "1" / "model.onnx").read_bytes() == onnx_model.read_bytes()
    assert (config_path.parent / "1" / "tokenizer.model").read_bytes() == (folder / "tokenizer.model").read_bytes()
    exported = OnnxScorer(config_path.parent / "1" / "model.onnx")
    assert np.array_equal(exported.logits(TEXTS), OnnxScorer(onnx_model).logits(TEXTS))
    assert exported.threshold == OnnxScorer(onnx_model).threshold
    config_path.write_text(config_path.read_text().replace("max_batch_size", "max_batch"))
    with pytest.raises(UserError, match=r"config\.pbtxt: not a Triton model config"):
        read_config(config_path)


def test_a_stop_turns_readiness_off_then_answers_every_request_in_flight(onnx_model, tmp_path):
    """SIGTERM under load, clients acting as a load balancer does (no new request once readiness is false): every
    request gets an answer, none a reset (the old stop accepted requests for 0.8 s and then dropped them)."""
    import http.client
    import signal
    import threading
    import time

    from tinydetect.serving.process import launch

    server = launch(onnx_model, tmp_path / "server.log", "--params", "no-params.yaml")
    body = json.dumps({"inputs": [{"name": "text", "shape": [1, 1], "datatype": "BYTES", "data": [TEXTS[0]]}]})
    outcomes, not_ready = [], threading.Event()

    def watch_readiness() -> None:
        while server.ready():
            time.sleep(0.05)
        not_ready.set()

    def client() -> None:
        while not not_ready.is_set():
            connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
            try:
                connection.request("POST", "/v2/models/tinydetect/infer", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                outcomes.append(response.status)
            except ConnectionRefusedError:
                outcomes.append("refused")  # nothing listening any more: a clean no
            except OSError as error:  # reset, broken pipe, closed without an answer
                outcomes.append(f"dropped: {error!r}")
            finally:
                connection.close()

    threads = [threading.Thread(target=client) for _ in range(8)] + [threading.Thread(target=watch_readiness)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    server.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join()
    assert server.process.wait(60) == 0, (tmp_path / "server.log").read_text()[-2000:]
    dropped = [outcome for outcome in outcomes if isinstance(outcome, str) and outcome.startswith("dropped")]
    assert outcomes.count(200) > 8 and not dropped, (dropped[:3], len(dropped), len(outcomes))
    assert "refused" not in outcomes  # readiness went false while the server still listened
