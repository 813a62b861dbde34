"""A team's shared DVC remote on S3-compatible storage: push from one clone, pull into another, nothing reruns.

The S3 server is moto's, in server mode on loopback, started and stopped here; DVC talks to it over HTTP through
its dvc-s3 plugin exactly as to AWS, MinIO or Ceph (an `endpointurl` and credentials from the environment).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import boto3
import pytest
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.server import ThreadedMotoServer

from tinydetect.testing.workspace import python_env

BUCKET = "tinydetect-cache"
REGION = "us-east-1"
# moto checks signatures only after this many requests: the ones that create the bucket, a user and its key
SETUP_REQUESTS = 4
ADMIN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


@pytest.fixture(scope="module")
def s3_remote():
    """A loopback S3 server that checks credentials, a bucket, and the key pair of a user allowed to use it."""
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


def dvc(repo, credentials, *args, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env={**python_env(), **credentials},
                          capture_output=True, text=True)
    if check:
        assert done.returncode == 0, f"dvc {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


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
    assert [json.loads(line)["label"] in ("HUMAN", "AI") for line in predicted.stdout.splitlines()] == [True, True]


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
