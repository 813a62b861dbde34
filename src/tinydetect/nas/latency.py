"""Sub-network latency: measured on this machine as the pipeline would ship it, then predicted.

A sub-network is built as a `DetectorModel` of its shape (random weights: time does not depend on their values)
with the lexical branch of `model:`, exported to ONNX, fused and quantized to dynamic INT8 exactly as the `onnx`
stage does (`export.onnx.export_int8`), and timed in ONNX Runtime, one thread, batch 1, one text of the model's
full input length (BERT's 128 tokens), as `benchmarks/latency.py` times the shipped variants. The median of
`latency.runs` runs is kept.

The predictor (the paper: a small MLP on the architecture encoding) maps `space.encode(arch)` to milliseconds.
Here it is either scikit-learn's `MLPRegressor` on the scaled encoding (fitted on log-latency, so its error is
relative) or a non-negative least-squares line over the same features (time is close to a sum of per-op costs);
`auto` keeps the one with the lower cross-validated mean absolute percentage error on the training sub-networks.
"""

from __future__ import annotations

import logging
import random
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_percentage_error
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from tinydetect.core.config import ModelConfig
from tinydetect.core.errors import UserError
from tinydetect.core.files import atomic_path
from tinydetect.evaluation.latency import time_calls
from tinydetect.export.onnx import export_int8
from tinydetect.modeling.model import DetectorModel
from tinydetect.nas.space import Architecture, SearchSpace, encode
from tinydetect.nas.supernet import largest_config, sub_config
from tinydetect.runtime.onnx_scorer import onnx_session


def measure(arch: Architecture, space: SearchSpace, model: ModelConfig, vocab_size: int, runs: int,
            fuse_skip_layer_norm: bool, seed: int) -> float:
    """Median ms of one text through `arch`'s ONNX INT8 graph, one thread, batch 1."""
    torch.manual_seed(seed)
    config = sub_config(largest_config(space, vocab_size, model), arch, space.head_size, model.lexical_buckets)
    detector = DetectorModel(config).eval()
    length = model.input_length
    ids = np.random.default_rng(seed).integers(5, vocab_size, size=(1, length), dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model_int8.onnx"
        export_int8(detector, path, length, fuse_skip_layer_norm)
        session = onnx_session(path, threads=1)
        timings = time_calls(lambda _: session.run(None, feed), range(runs), warmup=5)
    return float(np.median(timings))


def sample_to_measure(space: SearchSpace, count: int, seed: int) -> list[Architecture]:
    """`count` distinct sub-networks: the largest, the smallest and random ones (the ends anchor the fit)."""
    draw, chosen = random.Random(seed), [space.largest(), space.smallest()]
    while len(chosen) < count:
        arch = space.sample(draw)
        if arch not in chosen:
            chosen.append(arch)
    return chosen[:count]


def measure_all(archs: Sequence[Architecture], measure_one: Callable[[Architecture], float]) -> list[float]:
    """`measure_one` of each, under a progress bar. ONNX Runtime's quantizer logs a few dozen INFO lines per graph
    on the root logger, which would bury the bar: INFO is off while it runs."""
    logging.disable(logging.INFO)
    try:
        return [measure_one(arch) for arch in tqdm(archs, desc="latency: sub-networks timed", unit="net")]
    finally:
        logging.disable(logging.NOTSET)


def _mlp(seed: int):
    network = MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=5000, learning_rate_init=0.003, random_state=seed)
    return TransformedTargetRegressor(make_pipeline(StandardScaler(), network), func=np.log, inverse_func=np.exp)


def _linear(seed: int):
    return make_pipeline(StandardScaler(with_mean=False), LinearRegression(positive=True))


REGRESSORS = {"mlp": _mlp, "linear": _linear}


@dataclass
class LatencyPredictor:
    kind: str
    head_size: int
    regressor: object
    cross_validated_mape: dict[str, float]  # by kind, on the training sub-networks

    def predict(self, archs: Sequence[Architecture]) -> np.ndarray:
        return self.regressor.predict(np.stack([encode(arch, self.head_size) for arch in archs]))

    def __call__(self, arch: Architecture) -> float:
        return float(self.predict([arch])[0])


def fit_predictor(archs: Sequence[Architecture], latencies_ms: Sequence[float], head_size: int, kind: str,
                  seed: int) -> LatencyPredictor:
    """Fit `kind` (or, for `auto`, each kind, keeping the one with the lower 5-fold cross-validated MAPE)."""
    features = np.stack([encode(arch, head_size) for arch in archs])
    target = np.asarray(latencies_ms, dtype=np.float64)
    folds = KFold(n_splits=min(5, len(archs)), shuffle=True, random_state=seed)
    errors = {name: float(mean_absolute_percentage_error(target, cross_val_predict(make(seed), features, target,
                                                                                   cv=folds)))
              for name, make in REGRESSORS.items() if kind in ("auto", name)}
    chosen = min(errors, key=errors.get)
    regressor = REGRESSORS[chosen](seed).fit(features, target)
    return LatencyPredictor(chosen, head_size, regressor, {name: round(error, 6) for name, error in errors.items()})


def held_out_split(count: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices to fit on and indices held out (at least one of each); the largest and smallest always fit."""
    rest = list(range(2, count))
    random.Random(seed).shuffle(rest)
    held = max(1, min(len(rest), round(count * fraction)))
    return sorted([0, 1, *rest[held:]]), sorted(rest[:held])


def save_predictor(predictor: LatencyPredictor, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        joblib.dump(predictor, tmp)


def load_predictor(path: str | Path) -> LatencyPredictor:
    if not Path(path).is_file():
        raise UserError(f"{path}: no latency predictor here; run `dvc repro latency`")
    predictor = joblib.load(path)
    if not isinstance(predictor, LatencyPredictor):
        raise UserError(f"{path}: not a latency predictor; rerun `dvc repro latency`")
    return predictor
