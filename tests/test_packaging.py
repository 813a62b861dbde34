"""`pip install .` gives a working `tinydetect`: every import the library makes is a declared dependency."""

import ast
import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tinydetect.testing.workspace import copy_sources

from .conftest import REPO_ROOT


def declared(extras: bool = True) -> set[str]:
    """The lean install's dependencies, and with `extras` every extra's too (the project's own `all` excluded)."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    if extras:
        lines += [line for extra in project["optional-dependencies"].values() for line in extra]
    return {Requirement(line).name.lower() for line in lines} - {"tinydetect"}


# the serving venv's own packages (requirements-serve.txt: PyTriton needs NumPy 1, Flower protobuf<7), and the module
# tritonserver's Python backend gives the model it loads
SERVE_ONLY = {"pytriton", "triton_python_backend_utils", "flwr"}


def serve_requirements() -> set[str]:
    lines = (REPO_ROOT / "requirements-serve.txt").read_text().splitlines()
    return {Requirement(line.split("#")[0]).name.lower() for line in lines if line.split("#")[0].strip()}


def third_party_imports(folder: str = "src/tinydetect") -> set[str]:
    modules = set()
    for path in (REPO_ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return {module for module in modules if module not in sys.stdlib_module_names and module != "tinydetect"}


def test_every_imported_package_is_a_declared_dependency():
    """Before: onnx, onnxruntime, coremltools, google-genai, openai, python-dotenv and httpx2 were missing."""
    distributions = packages_distributions()
    missing = {}
    for module in sorted(third_party_imports() - SERVE_ONLY):
        providers = {name.lower() for name in distributions.get(module, [])}
        if not providers & declared():
            missing[module] = sorted(providers)
    assert not missing, f"imported but not in [project.dependencies]: {missing}"


def test_the_serving_venv_pins_what_serving_imports():
    """`tinydetect serve` and `tinydetect federated` run in .venv-serve (requirements-serve.txt + tinydetect
    --no-deps): no torch there."""
    assert {"nvidia-pytriton", "flwr"} <= serve_requirements()
    assert "torch" not in serve_requirements()
    distributions = packages_distributions()
    imported = (third_party_imports("src/tinydetect/serving") | third_party_imports("src/tinydetect/federated")
                | third_party_imports("src/tinydetect/web")) - {"triton_python_backend_utils", "pytriton", "flwr", "torch"}
    missing = {module for module in imported
               if not {name.lower() for name in distributions.get(module, [])} & serve_requirements()}
    assert not missing, f"imported by tinydetect.serving or .federated but not in requirements-serve.txt: {missing}"


def test_requirements_pin_every_declared_dependency():
    pinned = {Requirement(line.split("#")[0]).name.lower() for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
              if line.split("#")[0].strip() and not line.startswith("-e")}
    assert declared() <= pinned, declared() - pinned


# Records each third-party package tinydetect's own code imports while it loads a model and scores (an import hook:
# what its dependencies import in turn is theirs to declare), then answers as JSON.
LEAN_PROBE = """
import builtins, importlib.metadata, json, sys
imported, real_import = set(), builtins.__import__
def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and (globals or {}).get("__name__", "").startswith("tinydetect"):
        imported.add(name.split(".")[0])
    return real_import(name, globals, locals, fromlist, level)
builtins.__import__ = recording_import
from tinydetect.api import load
rows = load(sys.argv[1]).score(sys.argv[2:])
builtins.__import__ = real_import
try:
    import torch  # noqa: F401
    has_torch = True
except ImportError:
    has_torch = False
providers = importlib.metadata.packages_distributions()
third_party = imported - set(sys.stdlib_module_names) - {"tinydetect", "__future__"}
print(json.dumps({"rows": rows, "has_torch": has_torch,
                  "distributions": sorted({dist.lower() for module in third_party for dist in providers[module]})}))
"""


def test_the_lean_wheel_scores_texts_in_a_venv_without_torch(tmp_path, onnx_model):
    """`pip install tinydetect` (no extras) then `tinydetect.api.load(path).score(texts)`: the serving venv's packages
    (`requirements-serve.txt`: no torch, no transformers, no DVC) stand in for the lean dependencies, and every
    distribution the scoring imports must be one of them."""
    serve_site = next((REPO_ROOT / ".venv-serve/lib").glob("python3*/site-packages"), None)
    assert serve_site is not None, ".venv-serve is missing: `make test` makes it (make serve-env)"
    python, _ = venv_with_wheel(tmp_path, build_wheel(tmp_path), serve_site)
    texts = ["The river rose after the rain, and the old bridge held.", "오늘은 비가 많이 와서 집에 있었다.", "Две"]
    result = subprocess.run([python, "-c", LEAN_PROBE, onnx_model, *texts], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout)
    assert not probe["has_torch"]
    assert {"onnxruntime", "numpy", "sentencepiece"} <= set(probe["distributions"])  # the hook sees the imports
    assert set(probe["distributions"]) <= declared(extras=False), set(probe["distributions"]) - declared(extras=False)
    from tinydetect.api import load  # the same model in this venv: the same rows

    expected = load(onnx_model).score(texts)
    assert [row["label"] for row in probe["rows"]] == [row["label"] for row in expected]
    assert [row["p_ai"] for row in probe["rows"]] == pytest.approx([row["p_ai"] for row in expected], abs=1e-5)
    assert set(probe["rows"][0]) == {"p_ai", "label", "reason", "obfuscated", "invisible_characters",
                                     "mixed_script_words"}


def build_wheel(tmp_path: Path) -> Path:
    copy_sources(REPO_ROOT, tmp_path / "source")  # setuptools writes build/ beside the sources: not in the repo
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    tmp_path / "dist", tmp_path / "source"], check=True, capture_output=True)
    return next((tmp_path / "dist").glob("tinydetect-*.whl"))


def venv_with_wheel(tmp_path: Path, wheel: Path, packages_from: str | Path) -> tuple[Path, Path]:
    """A fresh venv that sees the third-party packages of `packages_from` (a site-packages folder) through a .pth
    line instead of installing them again, with the wheel installed; its python and its site-packages."""
    subprocess.run([sys.executable, "-m", "venv", tmp_path / "venv"], check=True)
    python = tmp_path / "venv/bin/python"
    venv_site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                    capture_output=True, text=True, check=True).stdout.strip())
    # a plain path line: the .pth files there (this repo's editable install among them) are not processed
    (venv_site / "third_party.pth").write_text(f"{packages_from}\n")
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    return python, venv_site


def test_the_wheel_in_a_fresh_venv_runs_predict_on_an_onnx_model(tmp_path, onnx_model):
    """Build the wheel, install it into a fresh venv, run the `tinydetect` command it installs.

    The venv sees this environment's third-party packages through a .pth line instead of installing them
    again (that took over three minutes of the suite's fifteen): the wheel's own files, its package data
    and its entry point are what this checks; that every import is declared is checked above, from the source.
    """
    python, venv_site = venv_with_wheel(tmp_path, build_wheel(tmp_path), sysconfig.get_path("purelib"))
    (tmp_path / "texts.txt").write_text("The river rose after rain.\n오늘은 비가 왔다.\n", encoding="utf-8")
    tinydetect = shutil.which("tinydetect", path=str(tmp_path / "venv/bin"))
    located = subprocess.run([python, "-c", "import tinydetect; print(tinydetect.__file__)"], capture_output=True, text=True)
    assert located.stdout.startswith(str(venv_site)), located  # the wheel's copy, not this checkout's
    result = subprocess.run([tinydetect, "predict", "--model", onnx_model, tmp_path / "texts.txt"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().split("\n")) == 2
    copied = subprocess.run([python, "-c", "import sys, pathlib; from tinydetect.mcu.toolchain import copy_sources; "
                             "copy_sources(pathlib.Path(sys.argv[1]))", tmp_path / "mcu_src"], capture_output=True, text=True)
    assert copied.returncode == 0, copied.stderr  # the C sources the mcu stage compiles are package data
    assert (tmp_path / "mcu_src/tinydetect_mcu.c").stat().st_size > 0
