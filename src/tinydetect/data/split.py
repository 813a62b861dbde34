"""Train/val/test split: stratified by label, grouped so a text and its rewrites stay together.

scikit-learn's `StratifiedGroupKFold` deals the groups into `FOLDS` folds of about equal size
and label mix; test takes `round(test_fraction * FOLDS)` of them, val the next
`round(val_fraction * FOLDS)`, train the rest. So a fraction is honoured to within half a fold
(2.5% of the texts) plus the size of one group: `test_fraction: 0.4` gives about 40% test.
(Holding out one fold of k = 1/fraction folds, as before, rounded every fraction to 1/k:
0.4 gave 50%.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from tinydetect.core.config import SplitConfig
from tinydetect.core.errors import UserError
from tinydetect.core.records import Record

SPLITS = ("train", "val", "test")
FOLDS = 20


class SplitError(UserError):
    """The data cannot be split as asked."""


def _check_labels(records: Sequence[Record]) -> None:
    labels = {record.label for record in records}
    if "HUMAN" not in labels:
        raise SplitError(f"the data has no HUMAN texts ({len(records)} texts, all AI): add human texts to data/real")
    if "AI" not in labels:
        raise SplitError(f"the data has no AI texts ({len(records)} texts, all HUMAN, and synth wrote none): add AI "
                         "texts to data/real, or let synth write them (synth.multiplier > 0; see metrics/synth.json)")


def fold_counts(config: SplitConfig, folds: int) -> tuple[int, int]:
    """Folds for (test, val): each fraction rounded to whole folds, at least one each, at least one left to train.

    >>> fold_counts(SplitConfig(val_fraction=0.15, test_fraction=0.2), 20)
    (4, 3)
    """
    test = max(1, round(config.test_fraction * folds))
    val = max(1, round(config.val_fraction * folds))
    if test + val >= folds:
        raise SplitError(f"val_fraction {config.val_fraction} + test_fraction {config.test_fraction} leave nothing "
                         f"to train on with {folds} folds of groups; lower them or add data")
    return test, val


def _fold_of_each_record(records: Sequence[Record], folds: int, seed: int) -> np.ndarray:
    groups = np.array([record.group for record in records])
    labels = np.array([record.label_int for record in records])
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    fold_of = np.empty(len(records), dtype=int)
    try:
        for fold, (_, held) in enumerate(splitter.split(np.zeros(len(records)), labels, groups)):
            fold_of[held] = fold
    except ValueError as error:  # sklearn's word for "too few texts of one label"
        raise SplitError(f"cannot split {len(records)} texts into {folds} folds by group: {error}") from None
    return fold_of


def split_records(records: Sequence[Record], config: SplitConfig, seed: int) -> dict[str, list[Record]]:
    """Return `{"train": [...], "val": [...], "test": [...]}`; no group is in two splits."""
    _check_labels(records)
    ordered = sorted(records, key=lambda record: record.id)  # input file order must not matter
    group_count = len({record.group for record in ordered})
    smallest_label = min(sum(r.label == label for r in ordered) for label in ("HUMAN", "AI"))
    folds = min(FOLDS, group_count, smallest_label)  # every fold needs a group, and a text of each label
    if folds < 3:
        raise SplitError(f"{group_count} groups of texts ({smallest_label} of the rarer label) cannot make train, "
                         "val and test: add data")
    test_folds, val_folds = fold_counts(config, folds)
    fold_of = _fold_of_each_record(ordered, folds, seed)
    split_of = np.where(fold_of < test_folds, 2, np.where(fold_of < test_folds + val_folds, 1, 0))
    return {name: [record for record, split in zip(ordered, split_of, strict=True) if split == index]
            for index, name in enumerate(SPLITS)}


def split_summary(splits: dict[str, list[Record]]) -> dict:
    summary = {}
    for name, records in splits.items():
        summary[f"{name}_size"] = len(records)
        summary[f"{name}_ai"] = sum(record.label == "AI" for record in records)
        summary[f"{name}_groups"] = len({record.group for record in records})
    return summary
