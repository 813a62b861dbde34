"""Shared fixtures: small data the tests make themselves, and paths to ../shared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tinydetect.core.records import parse_record
from tinydetect.testing.workspace import copy_sources, python_env

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

ENGLISH_SENTENCES = [
    "The river rose slowly after three days of rain in the valley.",
    "Our neighbours planted tomatoes along the southern fence this spring.",
    "A quiet library is the best place to finish a long report.",
    "The train to the coast was late again because of signal repairs.",
    "She fixed the old radio with a soldering iron and some patience.",
    "Children in the park were flying kites shaped like dragons.",
]
KOREAN_SENTENCES = [
    "오늘 아침에는 비가 많이 와서 우산을 챙겨 나갔다.",
    "동네 빵집에서 갓 구운 식빵을 사 왔는데 정말 맛있었다.",
    "주말마다 한강 공원에서 자전거를 타는 것이 나의 취미이다.",
    "도서관에서 빌린 소설을 밤새 읽느라 잠을 거의 못 잤다.",
]


def make_human_rows(count: int) -> list[dict]:
    """`count` distinct human texts, two thirds English and one third Korean."""
    rows = []
    for index in range(count):
        sentences = KOREAN_SENTENCES if index % 3 == 2 else ENGLISH_SENTENCES
        start = index % len(sentences)
        text = " ".join(sentences[(start + k) % len(sentences)] for k in range(3)) + f" (note {index})"
        rows.append({"id": f"h{index:03d}", "text": text, "label": "HUMAN"})
    return rows


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def human_records():
    return [parse_record(row, default_id=row["id"]) for row in make_human_rows(60)]


@pytest.fixture
def labelled_records(human_records):
    """Human texts plus one AI 'rewrite' of each, sharing its group."""
    ai_records = [
        parse_record(
            {"id": f"{r.id}~ai", "text": r.text[::-1], "label": "AI", "group": r.group}, default_id=""
        )
        for r in human_records
    ]
    return human_records + ai_records


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent: this test needs ../shared/data beside the repo")
    return path


# --- one real `dvc repro` of the whole pipeline on a tiny config, shared by the end-to-end tests ---

TINY_PARAMS = {
    "tokenizer": {"vocab_size": 1000},
    "model": {"num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64, "max_length": 32,
              "lexical_buckets": 512, "lexical_max_length": 48},  # the branch reads past BERT's 32 tokens
    "pretrain": {"epochs": 1, "batch_size": 16},
    # two epochs of a tiny encoder need not beat chance: the guard warns here (test_training.py makes it fail)
    "train": {"epochs": 2, "batch_size": 16, "teacher": "tfidf", "encoder_guard": "warn"},
    "prune": {"finetune_epochs": 1, "neuron_multiple": 16},  # widths 32, 16, 48: Core ML INT4 blocks of 16
    # a 2-epoch model scores near its threshold, where any rounding flips labels: parity limits
    # are tested on fixed inputs in test_compression.py, here only the plumbing
    "quantize": {"max_label_disagreement": 1.0, "int4_block_size": 16},
    # two kinds (fp16, and int4 for its block size): test_coreml.py converts every kind on its own; each kind built here
    # cost about 3 s in each of the three Core ML stage runs of the suite
    "coreml": {"max_label_disagreement": 1.0, "calibration_texts": 4, "variants": ["fp16", "int4"]},
    "eval": {"latency_texts": 5, "cut_folds": 2},  # cut_folds: the calibrate stage's folds, run for real
    "mcu": {"buckets": 64, "hidden_sizes": [8, 4], "epochs": 3, "finetune_epochs": 1, "qat_epochs": 1, "simulator_texts": 3},
    # the NAS stages on a space around the tiny shape (head size 16), and the searched sub-network trained on
    "supernet": {"max_layers": 2, "hidden_sizes": [16, 32], "head_size": 16, "ffn_min": 16, "ffn_max": 64, "ffn_step": 16,
                 "mlm_epochs": 1, "epochs": 1, "batch_size": 16},
    "latency": {"samples": 6, "runs": 3},
    "search": {"latency_ms": 100.0, "population": 3, "generations": 2, "parents": 2},
}


# no command of a test runs this long (the slowest, the tiny pipeline's first `dvc repro`, takes about 2 min):
# past it, a hung command fails its test instead of holding the suite until CI's own limit
COMMAND_TIMEOUT_S = 900


def run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, env=python_env(), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def dvc(repo, credentials, *args, check=True) -> subprocess.CompletedProcess:
    """`dvc *args` in `repo` with `credentials` (e.g. the S3 remote's key) in the environment."""
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env={**python_env(), **credentials},
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    if check:
        assert done.returncode == 0, f"dvc {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def merge(base: dict, override: dict) -> dict:
    return {key: merge(base[key], value) if isinstance(value, dict) else value for key, value in override.items()} | {
        key: value for key, value in base.items() if key not in override
    }


@pytest.fixture(scope="session")
def pipeline_repo(tmp_path_factory):
    """The tiny pipeline's workspace after one `dvc repro`, and that run's log.

    Made once per run, not once per pytest-xdist worker: the first worker to ask builds it under a file lock in the
    run's shared temporary folder, the others wait for it and reuse it. Its tests read it or copy it."""
    from filelock import FileLock  # imported here: only the tests that use the pipeline pay for it

    own = tmp_path_factory.getbasetemp()
    shared = own.parent if os.environ.get("PYTEST_XDIST_WORKER") else own  # a worker's parent is the run's folder
    repo, log = shared / "pipeline" / "repo", shared / "pipeline" / "repro.log"
    with FileLock(str(shared / "pipeline.lock")):
        if not log.exists():
            first_log = build_pipeline(repo)
            log.write_text(first_log)
    return repo, log.read_text()


def build_pipeline(repo: Path) -> str:
    """Sources, tiny params and tiny demo data in a new git repository at `repo`, then `dvc repro`: its output."""
    repo.mkdir(parents=True)
    copy_sources(REPO_ROOT, repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    (repo / "params.yaml").write_text(yaml.safe_dump(merge(params, TINY_PARAMS)))
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        run(command, repo)
    run([sys.executable, "-m", "tinydetect", "demo-data", "data/real/demo.jsonl", "--max-english", "40", "--max-korean", "20"], repo)
    return run([sys.executable, "-m", "dvc", "repro"], repo)


# --- an S3-compatible server on loopback (moto's), for the shared DVC remote (test_scale.py, the queued sweep) ---

BUCKET = "tinydetect-cache"
REGION = "us-east-1"
# moto checks signatures only after this many requests: the ones that create the bucket, a user and its key
SETUP_REQUESTS = 4
ADMIN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


@pytest.fixture(scope="session")
def s3_remote():
    """A loopback S3 server that checks credentials, a bucket, and the key pair of a user allowed to use it."""
    import boto3  # imported here: only the tests that use the server pay for it
    from moto import settings as moto_settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.server import ThreadedMotoServer

    previous_limit = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = SETUP_REQUESTS
    ActionAuthenticatorMixin.request_count = 0
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    setup = {"endpoint_url": endpoint, "aws_access_key_id": "setup", "aws_secret_access_key": "setup", "region_name": REGION}
    boto3.client("s3", **setup).create_bucket(Bucket=BUCKET)
    iam = boto3.client("iam", **setup)
    iam.create_user(UserName="ci")
    iam.put_user_policy(UserName="ci", PolicyName="cache", PolicyDocument=ADMIN_POLICY)
    key = iam.create_access_key(UserName="ci")["AccessKey"]
    yield endpoint, {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
                     "AWS_DEFAULT_REGION": REGION}
    server.stop()
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = previous_limit


@pytest.fixture(scope="session")
def onnx_model(tmp_path_factory):
    """A tiny random-weight detector exported to ONNX (dynamic batch, 32 tokens), with an English and a Korean cut, and
    three labels (HUMAN cuts, the two languages, at least 3 words)."""
    from tinydetect.core.config import ModelConfig, TokenizerConfig
    from tinydetect.decision.threshold import Threshold
    from tinydetect.export.onnx import export
    from tinydetect.modeling.model import Detector, build_model
    from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece

    folder = tmp_path_factory.mktemp("onnx-model")
    texts = [row["text"] for row in make_human_rows(24)]
    tokenizer = DetectorTokenizer(train_sentencepiece(texts, TokenizerConfig(vocab_size=500), seed=0), max_length=32)
    config = ModelConfig(lexical_buckets=0, num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64, max_length=32)
    threshold = Threshold(0.5, {"ko": 0.45}, human=0.49, human_by_language={"ko": 0.44}, languages=("en", "ko"),
                          min_words=3)
    detector = Detector(build_model(config, tokenizer.vocab_size, seed=0).eval(), tokenizer, threshold=threshold)
    detector.save(folder)
    export(detector.model, folder / "model.onnx", 32, dynamic_batch=True)
    return folder / "model.onnx"


# --- the web page's tests (test_web_browser.py, test_federated.py) share one tiny detector's assets and one build ---
from .web_fixtures import web_assets, web_page_dir  # noqa: E402, F401 (fixtures)

# --- two workers (pytest-xdist, `--dist loadgroup` in pyproject.toml) ---
# Each file's tests go to one worker (their module fixtures are made once), and so do the tests sharing the web page's
# build. The tiny pipeline's `dvc repro` (3 min) is made once for both workers (`pipeline_repo`): the test that checks
# its stages runs first, so one worker builds it while the other works through the files that do not need it, and the
# files that use it run last, on whichever worker is free.
FIRST = "tests/test_pipeline_e2e.py::test_every_stage_runs_and_writes_its_outputs"
WEB_FIXTURES = {"web_page_dir", "web_assets"}
BROWSER_FILES = {"test_extension.py"}  # Chromium with the extension, on a worker of its own choosing
# --- tiers (`make test` runs them all; `make test-fast` leaves out e2e, browser and slow) ---
# e2e: the tests on the tiny pipeline's `dvc repro`; browser: the page built and driven in Chromium; slow: the files
# whose tests start servers, simulators, converters or venvs (each over ten seconds a test, measured with --durations)
SLOW_FILES = {"test_coreml.py", "test_serving.py", "test_federated.py", "test_scale.py", "test_mcu.py", "test_nas.py",
              "test_packaging.py", "test_review_e2e.py", "test_faults.py", "test_synth.py", "test_llm_backends.py",
              "test_training.py", "test_compression.py", "test_quality_levers.py", "test_robustness.py", "test_web.py"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups into the test ids
def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        return 0 if item.nodeid == FIRST else 2 if "pipeline_repo" in item.fixturenames else 1

    for item in items:
        group = "web" if WEB_FIXTURES & set(item.fixturenames) else item.path.name
        if item.nodeid == FIRST:
            group = "pipeline-first"
        elif "pipeline_repo" in item.fixturenames:
            group += "-pipeline"  # apart from the file's other tests, which need not wait for the pipeline
        item.add_marker(pytest.mark.xdist_group(group))
        if "pipeline_repo" in item.fixturenames or item.nodeid == FIRST:
            item.add_marker(pytest.mark.e2e)
        if WEB_FIXTURES & set(item.fixturenames) or item.path.name in BROWSER_FILES:
            item.add_marker(pytest.mark.browser)
        if item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
    items.sort(key=rank)  # stable: the order within each rank stays
