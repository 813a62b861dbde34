"""Where `tinydetect serve` runs: the serving venv, and the Python that tritonserver's backend stub must load.

PyTriton's Python-backend stub is a binary linked against `libpython3.X.so` and built against NumPy 1, so serving
runs in a venv of its own (`.venv-serve`, from `requirements-serve.txt`: `make serve-env`); `tinydetect serve`
started from the project's venv re-runs itself there.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig
from pathlib import Path

from tinydetect.core.errors import UserError

SERVE_VENV = ".venv-serve"
# where the editable checkout keeps it: src/tinydetect/serving/environment.py -> the repository root
CHECKOUT_ROOT = Path(__file__).resolve().parents[3]


def can_serve_here() -> bool:
    """This interpreter has PyTriton and the NumPy 1 its stub needs."""
    import numpy

    return importlib.util.find_spec("pytriton") is not None and int(numpy.__version__.split(".")[0]) < 2


def serving_python() -> Path:
    """The serving venv's interpreter: $TINYDETECT_SERVE_PYTHON, else .venv-serve in this directory or the checkout."""
    if os.environ.get("TINYDETECT_SERVE_PYTHON"):
        return Path(os.environ["TINYDETECT_SERVE_PYTHON"])
    for root in (Path.cwd(), CHECKOUT_ROOT):
        python = root / SERVE_VENV / "bin" / "python"
        if python.exists():
            return python
    raise UserError(f"no serving environment: {SERVE_VENV}/ is missing; run `make serve-env` (PyTriton's server needs "
                    "NumPy 1 and gets a venv of its own), or set TINYDETECT_SERVE_PYTHON to a Python that has it")


def exec_in_serving_env(module: str, argv: list[str]) -> None:
    """Replace this process with `<serving python> -m module argv...` (signals then reach the server directly)."""
    python = str(serving_python())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, [python, "-m", module, *argv])


def load_this_python_in_the_stub() -> None:
    """Put this interpreter's libpython first on LD_LIBRARY_PATH, for the backend stub that tritonserver starts.

    The stub is linked against `libpython3.11.so.1.0`; without this it loads the system's (Debian's 3.11.2 here)
    while importing the venv's standard library (3.11.7): `multiprocessing.resource_tracker` then dies with
    "'_thread.RLock' object has no attribute '_recursion_count'" and the model never loads.
    """
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        raise UserError(f"{sys.executable} is not a shared-library build of Python (no libpython), which "
                        "tritonserver's Python backend stub needs; make the serving venv from one that is")
    library_dir = sysconfig.get_config_var("LIBDIR")
    paths = [library_dir, *filter(None, os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep))]
    os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(dict.fromkeys(paths))
