"""Scale-out on this machine: a shared S3 remote, 2-process training, a parallel sweep. All on the demo data.

In a throw-away copy of the repo (the committed sources, the bundled demo texts) with moto's S3 server on loopback
as the DVC remote:

1. `dvc repro`, timed: the full pipeline from nothing.
2. `dvc push`, then a second clone: `dvc pull` and `dvc repro`, each timed; the stages that ran (none expected).
3. `pretrain.processes` and `train.processes` at 2, `dvc repro train`: the two stages under torchrun, timed and
   their metrics; then at 1 again, `dvc repro --force --single-item pretrain train`: the same stages alone.
4. A queued sweep of two `mcu.buckets` values, `dvc queue start -j 2`, timed; `dvc exp push` to a bare git remote
   and the S3 remote; the objects in the bucket before and after.

Writes `benchmarks/results/scale.json`, each step's numbers with the commit they ran on. About 25 minutes on 2 cores
(the full repro is needed by every step: `--steps sweep` alone takes about 13).

    python -m benchmarks.scale [--steps shared_remote,processes,sweep]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import boto3
import yaml
from moto.server import ThreadedMotoServer

from benchmarks import REPO_ROOT
from benchmarks._common import commit
from tinydetect.core.files import write_json
from tinydetect.testing.workspace import copy_sources, python_env, stages_run

BUCKET = "tinydetect-bench"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
SWEEP = "mcu.buckets=128,256"  # 1024 buckets: the 2-bit model overflows the UNO's SRAM and the stage fails


def shell(command: list[str], cwd: Path) -> tuple[str, float]:
    """Run `command`, fail loudly on an error; its output and its wall time in seconds."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env={**python_env(), **CREDENTIALS}, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout + done.stderr, round(seconds, 1)


def dvc(cwd: Path, *arguments: str) -> tuple[str, float]:
    return shell([sys.executable, "-m", "dvc", *arguments], cwd)


def git(cwd: Path, *arguments: str) -> None:
    shell(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *arguments], cwd)


def set_processes(repo: Path, processes: int) -> None:
    """pretrain.processes and train.processes in the workspace's params.yaml (`git checkout params.yaml` undoes it)."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["pretrain"]["processes"] = params["train"]["processes"] = processes
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def training_metrics(repo: Path) -> dict:
    pretrain = json.loads((repo / "metrics/pretrain.json").read_text())
    train = json.loads((repo / "metrics/train.json").read_text())
    return {"val_mlm_loss": pretrain["val_mlm_loss"], "val_roc_auc": train["val_roc_auc"],
            "best_val_roc_auc": train["best_val_roc_auc"], "epochs_run": train["epochs_run"],
            "processes": train["processes"]}


def s3_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                        region_name=CREDENTIALS["AWS_DEFAULT_REGION"])


def bucket_objects(endpoint: str) -> int:
    pages = s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return sum(page.get("KeyCount", 0) for page in pages)


def make_workspace(root: Path, endpoint: str) -> Path:
    repo = root / "origin"
    copy_sources(REPO_ROOT, repo)
    shell([sys.executable, "-m", "tinydetect", "demo-data", "data/real/demo.jsonl"], repo)
    git(repo, "init", "-q")
    dvc(repo, "remote", "add", "-d", "team", f"s3://{BUCKET}/cache")
    dvc(repo, "remote", "modify", "team", "endpointurl", endpoint)
    git(repo, "add", "-A")
    git(repo, "add", "-f", "data/real/demo.jsonl")
    git(repo, "commit", "-qm", "sources")
    return repo


def shared_remote(repo: Path, root: Path) -> dict:
    """Steps 1 and 2: full repro, push, then pull + repro in a second clone."""
    log, full_s = dvc(repo, "repro")
    full_stages = len(stages_run(log))
    print(f"full repro: {full_s:.0f} s, {full_stages} stages")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "results")
    _, push_s = dvc(repo, "push")
    clone = root / "clone"
    git(root, "clone", "-q", str(repo), str(clone))
    _, pull_s = dvc(clone, "pull")
    log, repro_s = dvc(clone, "repro")
    rerun = stages_run(log)
    print(f"second clone: pull {pull_s:.1f} s + repro {repro_s:.1f} s ({len(rerun)} stages rerun) "
          f"against {full_s:.0f} s for the full repro")
    return {"full_repro_s": full_s, "stages": full_stages, "push_s": push_s, "pull_s": pull_s,
            "repro_after_pull_s": repro_s, "stages_rerun_after_pull": rerun,
            "speedup": round(full_s / (pull_s + repro_s), 1)}


def processes(repo: Path) -> dict:
    """Step 3: pretrain + train under 2 processes, then alone (the full repro's outputs are the one-process ones)."""
    rows = {}
    set_processes(repo, 2)
    log, two_s = dvc(repo, "repro", "train")
    rows["2"] = {"wall_s": two_s, "stages": stages_run(log), **training_metrics(repo)}
    git(repo, "checkout", "--", "params.yaml")  # processes 1 again
    log, one_s = dvc(repo, "repro", "--force", "--single-item", "pretrain", "train")
    rows["1"] = {"wall_s": one_s, "stages": stages_run(log), **training_metrics(repo)}
    for count, row in rows.items():
        print(f"{count} process(es): pretrain + train {row['wall_s']:.0f} s, val MLM loss {row['val_mlm_loss']:.4f}, "
              f"val ROC-AUC {row['val_roc_auc']:.4f} (BERT alone {row['best_val_roc_auc']:.4f}), "
              f"{row['epochs_run']:.0f} epochs")
    return rows


def sweep(repo: Path, root: Path, endpoint: str) -> dict:
    """Step 4: two queued experiments at once, pushed to the team's git and S3 remotes."""
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline results", "--allow-empty")  # queued experiments start from HEAD
    origin = root / "team.git"
    git(root, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "team-git", str(origin))
    git(repo, "push", "-q", "team-git", "HEAD:refs/heads/main")
    dvc(repo, "exp", "run", "--queue", "-S", SWEEP)
    started = time.perf_counter()
    dvc(repo, "queue", "start", "-j", "2")
    while "Queued" in (status := dvc(repo, "queue", "status")[0]) or "Running" in status:
        time.sleep(5)
    queue_s = round(time.perf_counter() - started, 1)
    if status.count("Success") != 2:
        raise SystemExit(f"the sweep did not succeed (`dvc queue logs <name>` in {repo} says why):\n{status}")
    shown = json.loads(subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], cwd=repo, env=python_env(),
                                      capture_output=True, text=True, check=True).stdout)  # stdout: warnings go to stderr
    experiments = {exp["name"]: exp["revs"][0]["data"] for rev in shown for exp in (rev.get("experiments") or [])}
    objects_before = bucket_objects(endpoint)
    _, push_s = dvc(repo, "exp", "push", "team-git", *experiments)
    results = {name: {"mcu.buckets": data["params"]["params.yaml"]["data"]["mcu"]["buckets"],
                      "roc_auc": {variant: row["roc_auc"] for variant, row in
                                  data["metrics"]["metrics/mcu.json"]["data"].items() if isinstance(row, dict)}}
               for name, data in experiments.items()}
    new_objects = bucket_objects(endpoint) - objects_before
    print(f"sweep {SWEEP}: {queue_s:.0f} s with -j 2 ({status.count('Success')} succeeded); exp push {push_s:.1f} s, "
          f"{new_objects} new objects in the bucket")
    return {"params": SWEEP, "jobs": 2, "wall_s": queue_s, "succeeded": status.count("Success"), "exp_push_s": push_s,
            "new_remote_objects": new_objects, "experiments": results}


STEPS = ("shared_remote", "processes", "sweep")


def write_results(step: str, measured: dict, code: str) -> None:
    """One step's numbers, with the commit it ran on, merged into the results file (a failed step keeps the others)."""
    path = REPO_ROOT / "benchmarks" / "results" / "scale.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    results.update({"data": "bundled demo (tinydetect demo-data)", "params": {"pretrain": params["pretrain"],
                    "train": params["train"]}})
    results[step] = {"commit": code, "date": date.today().isoformat(), **measured}
    write_json(path, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, of {', '.join(STEPS)} (default: all)")
    steps = parser.parse_args().steps.split(",")
    if unknown := set(steps) - set(STEPS):
        parser.error(f"unknown steps {sorted(unknown)}")
    code = commit()  # at the start: the code that runs (edits made meanwhile do not)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    try:
        with tempfile.TemporaryDirectory(prefix="tinydetect-scale-") as scratch:
            root = Path(scratch)
            repo = make_workspace(root, endpoint)
            if "shared_remote" not in steps:
                dvc(repo, "repro")  # the other steps start from a reproduced pipeline
            measures = {"shared_remote": lambda: shared_remote(repo, root), "processes": lambda: processes(repo),
                        "sweep": lambda: sweep(repo, root, endpoint)}
            for step in (step for step in STEPS if step in steps):
                write_results(step, measures[step](), code)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
