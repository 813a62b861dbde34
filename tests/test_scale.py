"""Scale-out: a team's shared DVC remote on S3-compatible storage (push from one clone, pull into another, nothing
reruns; the CI's cache script), and training in several processes under torchrun.

The S3 server is moto's, in server mode on loopback, started and stopped by the `s3_remote` fixture (conftest.py);
DVC talks to it over HTTP through its dvc-s3 plugin exactly as to AWS, MinIO or Ceph (an `endpointurl` and
credentials from the environment).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml

from tinydetect.modeling.model import Detector
from tinydetect.testing.workspace import python_env, stages_run

from .conftest import BUCKET, REPO_ROOT, dvc


def git(repo, *args) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pushed_repo(pipeline_repo, s3_remote, tmp_path_factory):
    """The tiny pipeline's repo with the S3 remote as its default, its lock committed, everything pushed."""
    endpoint, credentials = s3_remote
    repo = tmp_path_factory.mktemp("team") / "origin"
    shutil.copytree(pipeline_repo[0], repo, symlinks=True)
    dvc(repo, credentials, "remote", "add", "-d", "team", f"s3://{BUCKET}/cache")
    dvc(repo, credentials, "remote", "modify", "team", "endpointurl", endpoint)
    git(repo, "add", "-A")
    git(repo, "add", "-f", "data/real/demo.jsonl")  # a team's own data is committed (only the demo file is ignored)
    git(repo, "commit", "-qm", "pipeline results locked, remote configured")
    dvc(repo, credentials, "push")
    return repo, credentials


def test_a_second_clone_pulls_everything_and_reruns_nothing(pushed_repo, tmp_path):
    origin, credentials = pushed_repo
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    dvc(clone, credentials, "pull")
    assert "Data and pipelines are up to date" in dvc(clone, credentials, "status").stdout
    assert "Running stage" not in dvc(clone, credentials, "repro").stdout
    (tmp_path / "texts.txt").write_text("The river rose after the rain.\n오늘은 비가 왔다.\n", encoding="utf-8")
    predicted = subprocess.run([sys.executable, "-m", "tinydetect", "predict", "--model", "models/detector",
                                str(tmp_path / "texts.txt")], cwd=clone, env=python_env(), capture_output=True, text=True)
    assert predicted.returncode == 0, predicted.stderr
    assert [json.loads(line)["label"] in ("HUMAN", "AI", "UNSURE") for line in predicted.stdout.splitlines()] == [True, True]


@pytest.mark.parametrize("problem", ["wrong key", "missing bucket"])
def test_a_broken_remote_fails_clearly_and_loses_nothing(pushed_repo, tmp_path, problem):
    origin, credentials = pushed_repo
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    if problem == "wrong key":
        credentials = {**credentials, "AWS_SECRET_ACCESS_KEY": "not-the-key"}
    else:
        dvc(clone, credentials, "remote", "modify", "team", "url", "s3://no-such-bucket/cache")
    (clone / "models").mkdir(exist_ok=True)
    (clone / "models/notes.txt").write_text("local work\n")
    failed = dvc(clone, credentials, "pull", check=False)
    assert failed.returncode != 0, problem
    expected = "Forbidden" if problem == "wrong key" else "The specified bucket does not exist"
    assert "ERROR" in failed.stderr and expected in failed.stderr, failed.stderr
    assert (clone / "models/notes.txt").read_text() == "local work\n"


def without_default_remote(repo, credentials) -> None:
    """A clone as CI sees it when the remote is not committed in .dvc/config (it then comes from CI secrets)."""
    dvc(repo, credentials, "remote", "remove", "team")


@pytest.mark.parametrize("secrets", ["present", "absent"])
def test_the_ci_cache_script_pulls_when_its_secrets_are_set(pushed_repo, s3_remote, tmp_path, secrets):
    origin, credentials = pushed_repo
    endpoint, _ = s3_remote
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    without_default_remote(clone, credentials)
    ci_env = {**credentials, "TINYDETECT_DVC_REMOTE": f"s3://{BUCKET}/cache", "TINYDETECT_DVC_ENDPOINT": endpoint} \
        if secrets == "present" else {}
    pulled = subprocess.run(["bash", ".ci/dvc-cache", "pull"], cwd=clone, env={**python_env(), **ci_env},
                            capture_output=True, text=True)
    assert pulled.returncode == 0, pulled.stderr
    status = dvc(clone, ci_env, "status").stdout
    if secrets == "present":
        assert "Data and pipelines are up to date" in status  # make repro would rerun nothing
        assert "ci" not in (clone / ".dvc/config").read_text()  # the remote lives in the git-ignored config.local
    else:
        assert "no DVC remote" in pulled.stdout and "deleted" in status  # nothing pulled: every stage would run


SEPARABLE = REPO_ROOT / "tests/scripts/train_separable.py"


def test_two_processes_keep_one_model_and_learn_as_one_does(tmp_path):
    """DDP over gloo through the same `train`: the replicas end bit-identical and learn what one process learns."""
    from sklearn.metrics import roc_auc_score

    from tinydetect.modeling.training import train

    from .test_training import TINY_MODEL, separable_task

    done = subprocess.run([sys.executable, "-m", "tinydetect.core.launch", "--processes", "2", str(SEPARABLE),
                           str(tmp_path)], env=python_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    replicas = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [replica["world_size"] for replica in replicas] == [2, 2]
    assert replicas[0]["weights"] == replicas[1]["weights"]  # gradients were averaged at every step
    data, config = separable_task()
    alone = train(TINY_MODEL, config, data, seed=0)
    alone_roc_auc = roc_auc_score([r.label_int for r in data.val], alone.detector.probability_ai([r.text for r in data.val]))
    assert alone_roc_auc > 0.9 and abs(replicas[0]["val_roc_auc"] - alone_roc_auc) <= 0.05
    assert replicas[0]["epochs_run"] == alone.epochs_run


def test_processes_2_in_params_runs_pretrain_and_train_under_torchrun(pipeline_repo, tmp_path):
    """The user's path: `pretrain.processes: 2`, `train.processes: 2`, `dvc repro`. Tolerances against the one-process
    run of the same tiny config: masked-token loss within 2%, train loss within 5%, the same number of optimizer
    steps (each process takes half of every batch), val ROC-AUC within 0.1 (18 val texts: one pair of texts that
    swaps order moves it by 0.01; `test_two_processes_keep_one_model_and_learn_as_one_does` checks learning)."""
    repo = tmp_path / "repo"
    shutil.copytree(pipeline_repo[0], repo, symlinks=True)
    alone = {name: json.loads((repo / path).read_text()) for name, path in METRIC_FILES.items()}
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["pretrain"]["processes"] = params["train"]["processes"] = 2
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    scratch = tmp_path / "tmp"  # the checkpoints' shared folder goes here, and must be gone at the end
    scratch.mkdir()
    done = subprocess.run([sys.executable, "-m", "dvc", "repro", "train"], cwd=repo,
                          env={**python_env(), "TMPDIR": str(scratch)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert set(stages_run(log)) == {"pretrain", "calibrate", "train"}  # calibrate: a new encoder and the train recipe
    assert "stages/train.py: 2 processes (torchrun --standalone, gloo)" in log
    both = {name: json.loads((repo / path).read_text()) for name, path in METRIC_FILES.items()}
    assert both["pretrain"]["processes"] == both["train"]["processes"] == 2
    assert both["pretrain"]["val_mlm_loss"] == pytest.approx(alone["pretrain"]["val_mlm_loss"], rel=0.02)
    assert both["dvclive"]["train"]["loss"] == pytest.approx(alone["dvclive"]["train"]["loss"], rel=0.05)
    assert both["dvclive"]["step"] == alone["dvclive"]["step"]
    assert abs(both["train"]["val_roc_auc"] - alone["train"]["val_roc_auc"]) <= 0.1
    assert not [path.name for path in scratch.iterdir() if path.name.startswith("tinydetect-")]
    detector = Detector.load(repo / "models/detector")  # saved once, by rank 0, loads as usual
    assert detector.model.config.num_hidden_layers == params["model"]["num_hidden_layers"]
    assert detector.probability_ai(["The river rose after the rain."]).shape == (1,)


METRIC_FILES = {"pretrain": "metrics/pretrain.json", "train": "metrics/train.json", "dvclive": "dvclive/train/metrics.json"}
