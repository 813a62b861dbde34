"""Out-of-fold P(AI) of the train split: every train text scored by a detector that never trained on it.

The label's cuts are quantiles of human and AI scores, and val alone holds too few human texts for a 1% quantile
(L2R: 90, so the cut is their highest score). The train split holds several times more, but the shipped detector
has learned them by heart. So the calibrate stage trains K detectors with the train recipe, each on K - 1 folds of
the train split (grouped as the teacher's folds are: a text and its rewrites leave together), and scores the fold it
left out; `decision.threshold.threshold_from_val` pools these scores with val's. Each fold detector fuses its two
parts on val as the shipped one does, so all their P(AI) are fitted to the same val labels (scikit-learn's
`CalibratedClassifierCV(ensemble=False)` rests a model fitted on all the data on its folds' scores the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tinydetect.core.config import ModelConfig, TrainConfig
from tinydetect.core.errors import UserError
from tinydetect.core.files import iter_jsonl
from tinydetect.core.records import Record
from tinydetect.decision.threshold import OutOfFold
from tinydetect.modeling.cross_fitting import cross_fit_folds
from tinydetect.modeling.training import TrainingData, train

OUT_OF_FOLD = "models/calibration/out_of_fold.jsonl"  # the calibrate stage's output, read by train and prune


def out_of_fold_p_ai(model_config: ModelConfig, train_config: TrainConfig, data: TrainingData, seed: int, folds: int,
                     prepare: Callable[[list[Record]], list[Record]] = list, pretrained: str | Path | None = None,
                     searched: str | Path | None = None, log: Callable[[str], None] = print) -> np.ndarray:
    """P(AI) of each of `data.train`'s texts (in order) from the fold detector that left it out, shape (n,).

    `prepare` turns a fold's kept texts into its training texts (the train stage's attack augmentation);
    `data.teacher_p_ai` must then cover the copies' ids too."""
    labels = np.array([record.label_int for record in data.train])
    p_ai = np.full(len(labels), np.nan)
    plan = list(cross_fit_folds(labels, [record.group for record in data.train], seed, folds))
    if not plan:
        raise UserError(f"eval.cut_folds: {folds} folds need at least 2 human and 2 AI texts in data/split/train.jsonl "
                        f"(it has {int((labels == 0).sum())} human, {int(labels.sum())} AI)")
    for number, (kept, held) in enumerate(plan, start=1):
        log(f"calibrate: fold {number} of {len(plan)}: training on {len(kept)} texts, scoring the {len(held)} left out")
        fold_data = TrainingData(data.tokenizer, prepare([data.train[i] for i in kept]), data.val, data.teacher_p_ai)
        result = train(model_config, train_config, fold_data, seed, pretrained=pretrained, searched=searched)
        p_ai[held] = result.detector.probability_ai([data.train[i].text for i in held])
    return p_ai


def scored_rows(records: Sequence[Record], p_ai: np.ndarray) -> list[dict]:
    """The calibrate stage's rows: what the cuts need of each text (no text: the file feeds thresholds only)."""
    return [{"id": record.id, "label": record.label_int, "domain": record.domain, "lang": record.lang,
             "p_ai": round(float(p), 6)} for record, p in zip(records, p_ai, strict=True)]


def out_of_fold_of(records: Sequence[Record], p_ai: np.ndarray) -> OutOfFold:
    """`records`' out-of-fold P(AI) with what the cuts need of each (label, domain, language), in memory."""
    return OutOfFold(np.array([record.label_int for record in records]), np.asarray(p_ai),
                     [record.domain for record in records], [record.lang for record in records])


def read_out_of_fold(path: str | Path) -> OutOfFold | None:
    """The calibrate stage's scores for the cuts; None when it wrote none (`eval.cut_folds: 0`)."""
    rows = [row for _, row in iter_jsonl(path)]
    if not rows:
        return None
    return OutOfFold(np.array([int(row["label"]) for row in rows]), np.array([float(row["p_ai"]) for row in rows]),
                     [row.get("domain") for row in rows], [row.get("lang") for row in rows])
