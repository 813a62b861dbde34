"""`dvc.yaml` tells the truth: every stage depends on what its script really imports and reads.

The stages come from DVC itself (`Repo.index.stages`, with `foreach` resolved), the imports
from the scripts' source (`ast`, transitively through the library), so an edit to any module
a stage runs reruns that stage, and nothing else.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dvc.repo import Repo

from tinydetect.runtime.variants import SOURCE_STAGES, SOURCES, VARIANTS
from tinydetect.testing.stage_deps import is_docstring_only, library_modules, params_sections

from .conftest import REPO_ROOT


def pipeline_stages():
    with Repo(str(REPO_ROOT)) as repo:
        return [
            {
                "name": stage.addressing,
                "script": next(word for word in stage.cmd.split() if word.startswith("stages/")),
                "deps": {dep.def_path for dep in stage.deps if not hasattr(dep, "params")},
                "params": {param for dep in stage.deps if hasattr(dep, "params") for param in dep.params},
                "outs": {out.def_path for out in stage.outs},
                "cached_outs": {out.def_path for out in stage.outs if out.use_cache},
            }
            for stage in repo.index.stages
        ]


STAGES = pipeline_stages()


def covered(path: str, deps: set[str]) -> bool:
    """A file is a dep itself or lies in a folder that is."""
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.parametrize("stage", STAGES, ids=lambda stage: stage["name"])
def test_every_imported_library_module_is_a_dep(stage):
    assert stage["script"] in stage["deps"], f"{stage['name']}: its own script is not a dep"
    imported = {str(path.relative_to(REPO_ROOT)) for path in library_modules(REPO_ROOT / stage["script"], REPO_ROOT / "src")}
    missing = sorted(path for path in imported if not covered(path, stage["deps"])
                     and not is_docstring_only(REPO_ROOT / path))
    assert not missing, f"{stage['name']} imports these but does not depend on them: {missing}"


@pytest.mark.parametrize("stage", STAGES, ids=lambda stage: stage["name"])
def test_no_library_dep_is_stale(stage):
    imported = {str(path.relative_to(REPO_ROOT)) for path in library_modules(REPO_ROOT / stage["script"], REPO_ROOT / "src")}
    library_deps = {dep for dep in stage["deps"] if dep.startswith("src/") and dep.endswith(".py")}
    assert library_deps <= imported, f"{stage['name']} depends on modules it never imports: {library_deps - imported}"


@pytest.mark.parametrize("stage", STAGES, ids=lambda stage: stage["name"])
def test_params_are_the_sections_the_script_reads(stage):
    read = params_sections(REPO_ROOT / stage["script"])
    declared_sections = {param.split(".")[0] for param in stage["params"]}
    assert declared_sections == read, f"{stage['name']}: dvc.yaml lists {sorted(stage['params'])}, the script reads {sorted(read)}"


def test_matrix_stages_run_once_per_source_model():
    declared = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["vars"][0]["sources"]
    assert tuple(declared) == SOURCES
    names = {stage["name"] for stage in STAGES}
    assert {f"{kind}@{source}" for kind in ("quantize", "onnx", "coreml") for source in SOURCES} <= names
    assert set(SOURCE_STAGES.values()) <= names


def test_every_registered_variant_is_an_output_of_the_stage_the_registry_names():
    outs_by_stage = {stage["name"]: stage["outs"] for stage in STAGES}
    for variant in VARIANTS:
        stage = variant.stage if variant.source is None else f"{variant.stage}@{variant.source}"
        assert covered(variant.path, outs_by_stage[stage]), f"{variant.name}: {variant.path} is not an output of {stage}"


def test_the_checker_finds_a_missing_dep(tmp_path):
    """The checker itself can fail: a script importing a module that no dep covers is caught."""
    script = tmp_path / "stage.py"
    script.write_text("from tinydetect.core.records import load_file\n")
    imported = {str(path.relative_to(REPO_ROOT)) for path in library_modules(script, REPO_ROOT / "src")}
    assert "src/tinydetect/core/records.py" in imported and "src/tinydetect/core/files.py" in imported
    assert not covered("src/tinydetect/core/records.py", {"src/tinydetect/core/files.py"})
    assert Path(REPO_ROOT / "src/tinydetect/__init__.py").exists() and is_docstring_only(REPO_ROOT / "src/tinydetect/__init__.py")


@pytest.mark.parametrize("stage", STAGES, ids=lambda stage: stage["name"])
def test_no_cached_output_is_committed_to_git(stage):
    """DVC refuses to run a stage whose cached output git tracks ("already tracked by SCM")."""
    if not stage["cached_outs"]:  # `git ls-files --` with no path lists every file
        return
    tracked = subprocess.run(["git", "ls-files", "--", *sorted(stage["cached_outs"])], cwd=REPO_ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    assert not tracked, f"{stage['name']}: git tracks its DVC-cached outputs {tracked}; git rm -r --cached them"


def test_no_stage_script_shadows_a_module_the_libraries_import():
    """`python stages/x.py` puts stages/ first on sys.path: a stages/triton.py (no `triton` is installed) made torch
    believe OpenAI Triton was there, and every stage importing `transformers.Trainer` failed with "module 'triton'
    has no attribute 'language'". Import what the stages import, with stages/ first, as a stage would."""
    probe = "import sys; sys.path.insert(0, 'stages'); from transformers import Trainer; import onnx, onnxruntime, dvclive"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-1500:]
