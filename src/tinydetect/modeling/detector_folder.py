"""The files every detector variant ships beside its weights, readable without torch.

`detector.json` (threshold(s), labels) and the tokenizer assets sit beside every variant: a PyTorch folder,
an `.onnx` file, a Core ML package. The ONNX scorer and the Triton server (whose environment has no torch:
`requirements-serve.txt`) read them through this module alone.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from safetensors import SafetensorError

from tinydetect.core.errors import UserError, first_line
from tinydetect.core.records import LABELS
from tinydetect.decision.threshold import Threshold
from tinydetect.modeling.tokenizer import DetectorTokenizer

DETECTOR_FILE = "detector.json"


def read_threshold(directory: str | Path) -> Threshold:
    """The decision threshold(s) saved beside any model variant, with a clear error if missing or garbled."""
    path = Path(directory) / DETECTOR_FILE
    if not path.exists():
        raise UserError(f"{directory}: not a detector folder (no {DETECTOR_FILE}); run `dvc repro`")
    try:
        return Threshold.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise UserError(f"{path}: no readable threshold ({first_line(error)}); rerun `dvc repro`") from None


@contextmanager
def unreadable_model_is_a_user_error(directory: str | Path) -> Iterator[None]:
    """A truncated, garbled or missing model file becomes one line naming the folder, not a traceback."""
    try:
        yield
    except (OSError, ValueError, RuntimeError, EOFError, pickle.UnpicklingError, SafetensorError) as error:
        raise UserError(f"{directory}: the model cannot be loaded ({first_line(error)}); "
                        "rerun `dvc repro` to rebuild it") from None


def write_detector_files(directory: str | Path, tokenizer: DetectorTokenizer, threshold: Threshold) -> None:
    """What every variant ships beside its weights: tokenizer assets and `detector.json`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(directory)
    write_detector_json(directory, threshold)


def write_detector_json(directory: str | Path, threshold: Threshold) -> None:
    """`detector.json`: the threshold(s) and the labels by logit column."""
    settings = {**threshold.to_json(), "labels": list(LABELS), "positive_label": "AI"}
    (Path(directory) / DETECTOR_FILE).write_text(json.dumps(settings, indent=2) + "\n")
