"""A throw-away copy of the repo to run the real pipeline in (for benchmarks and end-to-end tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# results of the pipeline: never copied, the copy makes its own
GENERATED = ("data/real/", "data/synth/", "data/synth_cache/", "data/split/", "data/eval/", "models/", "metrics/", "plots/",
             "dvclive/", ".dvc/cache/", ".dvc/tmp/")


def copy_sources(repo_root: Path, target: Path) -> None:
    """Copy the files git would commit in `repo_root` (tracked, or untracked and not ignored), minus pipeline results."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo_root, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    for relative in filter(None, listed):
        if not relative.startswith(GENERATED) and (repo_root / relative).is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo_root / relative, target / relative)


def stages_run(dvc_log: str) -> list[str]:
    r"""The stages a `dvc repro` ran, in order, from its output.

    >>> stages_run("Running stage 'split':\n> python stages/split.py\nRunning stage 'eval':")
    ['split', 'eval']
    """
    return [line.split("'")[1] for line in dvc_log.splitlines() if line.startswith("Running stage")]


def python_env() -> dict[str, str]:
    """The environment with this interpreter's folder first on PATH: DVC stage commands call `python`."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
