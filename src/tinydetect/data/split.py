"""Train/val/test split: stratified by label, grouped so a text and its rewrites stay together."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from tinydetect.core.config import SplitConfig
from tinydetect.core.errors import UserError
from tinydetect.core.records import Record

SPLITS = ("train", "val", "test")


class SplitError(UserError):
    """The data cannot be split as asked."""


def _hold_out(records: Sequence[Record], fraction: float, seed: int) -> tuple[list[Record], list[Record]]:
    """Split off about `fraction` of the records as whole groups, stratified by label.

    StratifiedGroupKFold with k = 1/fraction folds; the first fold is held out.
    """
    n_folds = max(2, round(1 / fraction))
    groups = np.array([record.group for record in records])
    if len(set(groups)) < n_folds:
        raise SplitError(
            f"{len(set(groups))} groups cannot be split into {n_folds} folds "
            f"(fraction {fraction}); add data or raise the fraction"
        )
    labels = np.array([record.label_int for record in records])
    folds = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    try:
        kept_index, held_index = next(folds.split(np.zeros(len(records)), labels, groups))
    except ValueError as error:  # sklearn's word for "too few texts of one label"
        raise SplitError(f"cannot hold out {fraction:.0%} of {len(records)} texts by group: {error}") from None
    return [records[i] for i in kept_index], [records[i] for i in held_index]


def split_records(records: Sequence[Record], config: SplitConfig, seed: int) -> dict[str, list[Record]]:
    """Return `{"train": [...], "val": [...], "test": [...]}`; no group is in two splits."""
    if {record.label for record in records} != {"HUMAN", "AI"}:
        raise SplitError("the data needs both HUMAN and AI texts; turn synth on (synth.multiplier > 0) or add AI texts")
    ordered = sorted(records, key=lambda record: record.id)  # input file order must not matter
    rest, test = _hold_out(ordered, config.test_fraction, seed)
    val_fraction_of_rest = config.val_fraction / (1 - config.test_fraction)
    train, val = _hold_out(rest, val_fraction_of_rest, seed + 1)
    return {"train": train, "val": val, "test": test}


def split_summary(splits: dict[str, list[Record]]) -> dict:
    summary = {}
    for name, records in splits.items():
        summary[f"{name}_size"] = len(records)
        summary[f"{name}_ai"] = sum(record.label == "AI" for record in records)
        summary[f"{name}_groups"] = len({record.group for record in records})
    return summary
