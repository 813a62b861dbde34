"""How a team reviews a change: commit, change one param, rerun, diff, report; and a queued sweep."""

import json
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from tinydetect.testing.workspace import python_env, stages_run

from .conftest import BUCKET, dvc, run

# the full model's exports (quantize@detector, onnx@detector, coreml@detector) do not rerun when pruning changes;
# triton does: it exports the pruned ONNX model (params serve.source); so do pareto, which places the pruned shape,
# and web, whose backbone is the pruned model (params web.source)
DESCENDANTS_OF_PRUNE = {"prune", "quantize@pruned", "onnx@pruned", "coreml@pruned", "triton", "eval", "pareto", "web"}
TIMINGS = {"wall_time_s", "requests_per_s"}  # synth's wall clock; with latency, all that may move
NAS = ("supernet", "latency", "search", "pareto", "extract")
PRUNE_METRIC_FILES = ("prune.json", "quantize/pruned.json", "onnx/pruned.json", "coreml/pruned.json", "eval.json",
                      "pareto.json", "web.json")


def dvc_json(arguments, repo):
    """stdout only: DVC prints warnings on stderr."""
    result = subprocess.run([sys.executable, "-m", "dvc", *arguments, "--json"], cwd=repo, env=python_env(),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout or "{}")


def git_commit(repo, message):
    """Commit whatever the workspace holds; an empty commit when nothing moved (the tests share one repo, and a
    worker may run them in either order)."""
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--allow-empty", "-qm", message], repo)


def set_param(repo, section, key, value):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params[section][key] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.fixture(scope="module")
def review_repo(pipeline_repo, tmp_path_factory):
    source, _ = pipeline_repo
    repo = tmp_path_factory.mktemp("review") / "repo"
    shutil.copytree(source, repo, symlinks=True)
    run(["git", "add", "-f", "data/real/demo.jsonl"], repo)  # queued experiments run from a clean copy of a commit
    git_commit(repo, "baseline run")
    return repo


def test_one_param_change_reruns_and_moves_only_its_descendants(review_repo):
    repo = review_repo
    set_param(repo, "prune", "neuron_fraction", 0.5)
    status = dvc_json(["status"], repo)
    assert set(status) == {"prune", "pareto"}  # their params changed; nothing upstream did
    log = run([sys.executable, "-m", "dvc", "repro"], repo)
    ran = set(stages_run(log))
    assert ran == DESCENDANTS_OF_PRUNE

    diff = dvc_json(["metrics", "diff", "HEAD"], repo)
    moved = {(path.removeprefix("metrics/"), key) for path, keys in diff.items() for key in keys}
    assert moved and all(path in PRUNE_METRIC_FILES for path, _ in moved), moved
    for path, key in moved:
        variant = key.split(".")[0]
        # the full model's quality cannot move: only pruned variants, pruning facts and timings
        assert path != "eval.json" or variant.startswith("pruned") or "latency" in key, (path, key)
    assert ("prune.json", "parameters") in moved
    assert any(path == "eval.json" and key.startswith("pruned") and "latency" not in key for path, key in moved)

    report = run([sys.executable, "-m", "tinydetect", "report", "--base", "HEAD"], repo)
    text = (repo / "report.md").read_text()
    assert "prune.neuron_fraction" in text and "| pruned | size_mb |" in text
    assert (repo / "report_plots/index.html").exists() and "wrote report.md" in report


def output_hashes(repo) -> dict[str, str]:
    """md5 of every stage output in dvc.lock but the ones that hold timings (metrics, eval plots)."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])
            if not out["path"].startswith(("metrics/", "plots/eval"))}


def test_identical_rerun_changes_no_tracked_metric_but_timings(review_repo):
    """Every data and model stage forced again: every output the same bytes.

    Left out to keep the suite inside its 15-minute budget: the Core ML stages
    (`test_coreml.py::test_packages_are_byte_identical_across_runs` saves one package in two processes with
    different hash seeds and compares the bytes, which is what used to differ) and eval, whose outputs are scores of
    the models checked here, and timings; and mcu, whose C header `test_mcu.py::test_same_seed_same_c_header` builds
    twice and compares; and the architecture search's stages (supernet, latency, search, pareto, extract), which time
    sub-networks on this machine, so their outputs differ from run to run by design.
    """
    repo = review_repo
    git_commit(repo, "prune more")
    before = output_hashes(repo)
    listed = subprocess.run([sys.executable, "-m", "dvc", "stage", "list", "--name-only"], cwd=repo, env=python_env(),
                            capture_output=True, text=True, check=True).stdout  # stdout only: warnings go to stderr
    stages = [name for name in listed.split() if not name.startswith("coreml@") and name not in ("eval", "mcu", *NAS)]
    assert {"synth", "train", "prune", "triton"} <= set(stages)  # in pipeline order
    log = run([sys.executable, "-m", "dvc", "repro", "--force", "--single-item", *stages], repo)  # same params and data
    assert set(stages_run(log)) == set(stages)
    after = output_hashes(repo)
    # every data file and model is bit-identical
    assert before == after, {path: (before.get(path), after.get(path)) for path in before if before.get(path) != after.get(path)}
    assert "up to date" in run([sys.executable, "-m", "dvc", "status"], repo)  # Core ML, eval, mcu: inputs did not move
    diff = dvc_json(["metrics", "diff", "HEAD"], repo)
    moved = [key for keys in diff.values() for key in keys]
    assert all("latency" in key or key in TIMINGS for key in moved), moved
    status = run(["git", "status", "--porcelain"], repo)
    assert "dvclive" not in status, status  # DVCLive logs are byte-identical
    git_commit(repo, "identical rerun")  # its timings committed: a test after it sees only its own changes


def use_shared_remote(repo, endpoint, credentials) -> None:
    """The team's S3 remote as this clone's default, in the git-ignored .dvc/config.local."""
    dvc(repo, credentials, "remote", "add", "--local", "-d", "team", f"s3://{BUCKET}/sweep")
    dvc(repo, credentials, "remote", "modify", "--local", "team", "endpointurl", endpoint)


QUEUE_DEADLINE_S = 480
# An experiment still queued, none running, for this long: DVC's own race with several workers, which leaves one
# queued with no worker to take it (https://github.com/treeverse/dvc/issues/10562; their remedy: start the queue
# again). Workers take a few seconds to start and to take a task, so a shorter wait would restart a healthy queue.
QUEUE_STALL_S = 60


def dvc_queue(repo, *arguments, log):
    """`dvc queue ...` with its output in `log`. Not through `run`: `dvc queue start` forks a keeper for each worker,
    and the keepers hold the caller's stdout until their worker exits, so a command that reads that output to its end
    returns only when the whole sweep has run, with no deadline of ours around it (seen: a CI run hung here)."""
    with log.open("ab") as output:
        subprocess.run([sys.executable, "-m", "dvc", "queue", *arguments], cwd=repo, env=python_env(), check=True,
                       stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, timeout=120)


def queue_report(repo, status) -> str:
    """The queue's status, then the last lines of each worker's and each experiment's log, for a failed assertion."""
    logs = sorted((repo / ".dvc/tmp/exps").glob("**/*.out"))
    tails = [f"--- {path.relative_to(repo)}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-30:])
             for path in logs]
    return "\n".join([status, *tails])


def run_queue(repo, jobs, log) -> str:
    """Start `jobs` workers, wait until nothing is queued or running, and return `dvc queue status`.

    Past the deadline the workers are killed and the assertion shows the status and the workers' logs."""
    dvc_queue(repo, "start", "-j", str(jobs), log=log)
    deadline = time.monotonic() + QUEUE_DEADLINE_S
    stalled_since = None
    try:
        while time.monotonic() < deadline:
            status = run([sys.executable, "-m", "dvc", "queue", "status"], repo)
            if "Queued" not in status and "Running" not in status:
                return status
            if "Running" in status:
                stalled_since = None
            elif stalled_since is None:
                stalled_since = time.monotonic()
            elif time.monotonic() - stalled_since > QUEUE_STALL_S:
                # stop first: an idle worker that never takes the task keeps its name, and `start` skips names up
                dvc_queue(repo, "stop", log=log)
                dvc_queue(repo, "start", "-j", str(jobs), log=log)
                stalled_since = None
            time.sleep(3)
        raise AssertionError(f"the queue did not finish in {QUEUE_DEADLINE_S} s:\n{queue_report(repo, status)}")
    finally:
        dvc_queue(repo, "stop", "--kill", log=log)  # no worker outlives the test, whatever happened


def test_queued_sweep_runs_two_at_once_and_lands_in_the_shared_remotes(review_repo, s3_remote, tmp_path):
    """`dvc queue start -j 2`, then `dvc exp push`: a teammate's fresh clone pulls one experiment, and every output
    it names comes from the shared S3 remote (`dvc status` clean after `dvc exp apply`)."""
    repo = review_repo
    endpoint, credentials = s3_remote
    run(["git", "checkout", "--", "."], repo)
    origin = tmp_path / "origin.git"  # the team's git remote
    run(["git", "init", "-q", "--bare", str(origin)], repo)
    run(["git", "remote", "add", "origin", str(origin)], repo)
    run(["git", "push", "-q", "origin", "HEAD:refs/heads/main"], repo)
    use_shared_remote(repo, endpoint, credentials)
    run([sys.executable, "-m", "dvc", "exp", "run", "--queue", "-S", "eval.max_errors=5,10"], repo)
    status = run_queue(repo, jobs=2, log=tmp_path / "queue.log")
    assert status.count("Success") == 2, status
    shown = dvc_json(["exp", "show"], repo)
    experiments = {exp["name"]: run_data["data"]["params"]["params.yaml"]["data"]["eval"]["max_errors"]
                   for rev in shown for exp in (rev.get("experiments") or []) for run_data in exp["revs"]}
    assert sorted(experiments.values()) == [5, 10]
    dvc(repo, credentials, "exp", "push", "origin", *experiments)  # git refs to origin, outputs to S3

    teammate = tmp_path / "teammate"
    run(["git", "clone", "-q", "--branch", "main", str(origin), str(teammate)], tmp_path)
    use_shared_remote(teammate, endpoint, credentials)
    assert set(dvc(teammate, credentials, "exp", "list", "origin", "--name-only").stdout.split()) == set(experiments)
    name = min(experiments, key=experiments.get)
    dvc(teammate, credentials, "exp", "pull", "origin", name)
    dvc(teammate, credentials, "exp", "apply", name)
    assert yaml.safe_load((teammate / "params.yaml").read_text())["eval"]["max_errors"] == experiments[name]
    assert "up to date" in dvc(teammate, credentials, "status").stdout
