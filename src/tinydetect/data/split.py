"""Train/val/test split: stratified by label, grouped so a text and its rewrites stay together.

scikit-learn's `StratifiedGroupKFold` deals the groups into `FOLDS` folds of about equal size
and label mix; test takes `round(test_fraction * FOLDS)` of them, val `round(val_fraction * FOLDS)`,
train the rest, the folds dealt in turn to whichever split is furthest below its share
(`deal_folds`). Dealing matters: the splitter places the largest groups first, in the lowest
folds, so "test takes the first folds" gave test the largest groups (a KatFish run put 4 of its 6
essay topics in test and 1 in train). So a fraction is honoured to within half a fold
(2.5% of the texts) plus the size of one group: `test_fraction: 0.4` gives about 40% test.
(Holding out one fold of k = 1/fraction folds, as before, rounded every fraction to 1/k:
0.4 gave 50%.)

Each domain is split on its own (a group belongs to the domain most of its texts have), so every
domain with three groups or more reaches test, val and train. Split as one pool, a domain of a few
large groups could miss a split entirely: a bilingual benchmark run gave val none of KatFish's six
essay topics (test one, train five), so the threshold never saw a Korean AI text. A domain of fewer
than three groups goes to train whole.
"""

from __future__ import annotations

from collections import Counter, defaultdict
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
    """Return `{"train": [...], "val": [...], "test": [...]}`; no group is in two splits; each domain split on its own."""
    _check_labels(records)
    ordered = sorted(records, key=lambda record: record.id)  # input file order must not matter
    splits: dict[str, list[Record]] = {name: [] for name in SPLITS}
    strata = domain_strata(ordered)
    for domain in sorted(strata):
        members = strata[domain]
        if len({record.group for record in members}) < 3 and len(strata) > 1:
            splits["train"].extend(members)  # too few groups to reach three splits
            continue
        for name, part in _split_stratum(members, config, seed).items():
            splits[name].extend(part)
    for name in ("val", "test"):
        if {record.label for record in splits[name]} != {"HUMAN", "AI"}:
            raise SplitError(f"cannot give {name} texts of both labels: one label sits in too few groups; add groups "
                             "of that label")
    return {name: sorted(part, key=lambda record: record.id) for name, part in splits.items()}


def domain_strata(records: Sequence[Record]) -> dict[str, list[Record]]:
    """Records by the domain most of their group's texts have (ties: the first in name order), so groups stay whole.

    >>> from tinydetect.core.records import parse_record
    >>> rows = [("a", "g1", "blog"), ("b", "g1", "blog"), ("c", "g1", "mail"), ("d", "g2", None)]
    >>> strata = domain_strata([parse_record({"id": i, "text": "t", "label": "AI", "group": g, "domain": d}, "")
    ...                         for i, g, d in rows])
    >>> {domain: [record.id for record in members] for domain, members in strata.items()}
    {'blog': ['a', 'b', 'c'], '': ['d']}
    """
    domains_of_group: dict[str, Counter] = defaultdict(Counter)
    for record in records:
        domains_of_group[record.group][record.domain or ""] += 1
    domain_of_group = {group: min(counts, key=lambda domain: (-counts[domain], domain))
                       for group, counts in domains_of_group.items()}
    strata: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        strata[domain_of_group[record.group]].append(record)
    return dict(strata)


def _split_stratum(records: Sequence[Record], config: SplitConfig, seed: int) -> dict[str, list[Record]]:
    """One domain's records dealt to the three splits by group folds (both labels in val and test where it has both)."""
    group_count = len({record.group for record in records})
    label_counts = [sum(r.label == label for r in records) for label in ("HUMAN", "AI")]
    two_labels = min(label_counts) > 0
    folds = min(FOLDS, group_count, min(label_counts) if two_labels else group_count)  # a group (and label) per fold
    if folds < 3:
        raise SplitError(f"{group_count} groups of texts ({min(label_counts)} of the rarer label) cannot make train, "
                         "val and test: add data")
    test_folds, val_folds = fold_counts(config, folds)
    fold_of = _fold_of_each_record(records, folds, seed)
    labels = np.array([record.label_int for record in records])
    if two_labels:
        test, val = assign_folds(fold_of, labels, folds, test_folds, val_folds)
    else:
        test, val = deal_folds(folds, test_folds, val_folds)
    split_of = np.where(np.isin(fold_of, test), 2, np.where(np.isin(fold_of, val), 1, 0))
    return {name: [record for record, split in zip(records, split_of, strict=True) if split == index]
            for index, name in enumerate(SPLITS)}


def assign_folds(fold_of: np.ndarray, labels: np.ndarray, folds: int, test_folds: int,
                 val_folds: int) -> tuple[list[int], list[int]]:
    """Test and val take `test_folds` and `val_folds` folds (`deal_folds`), each with both labels.

    When one label comes in a few large groups (AI essays grouped by topic), stratification
    cannot put it in every fold: a split whose folds miss it takes, in exchange for its last
    fold, the first fold of train that has both labels.

    >>> assign_folds(np.array([0, 0, 1, 2, 2, 3]), np.array([0, 1, 0, 0, 1, 0]), 4, 1, 1)
    ([0], [2])
    """
    has_both = [len(np.unique(labels[fold_of == fold])) == 2 for fold in range(folds)]
    test, val = deal_folds(folds, test_folds, val_folds)
    spare = [fold for fold in range(folds) if fold not in test + val and has_both[fold]]
    for chosen in (test, val):
        if not any(has_both[fold] for fold in chosen):
            if not spare:
                raise SplitError("cannot give val and test texts of both labels: one label sits in too few groups "
                                 f"({sum(has_both)} of {folds} folds have both); add groups of that label")
            chosen[-1] = spare.pop(0)
    return test, val


def deal_folds(folds: int, test_folds: int, val_folds: int) -> tuple[list[int], list[int]]:
    """Folds 0, 1, ... each to the split furthest below its share so far (train on ties): the test and val folds.

    The low folds hold the largest groups, so each split gets its share of large and small alike.

    >>> deal_folds(20, 4, 3)
    ([1, 7, 12, 18], [4, 10, 16])
    """
    shares = {"train": (folds - test_folds - val_folds) / folds, "test": test_folds / folds, "val": val_folds / folds}
    dealt: dict[str, list[int]] = {"train": [], "test": [], "val": []}
    for fold in range(folds):
        deficit = {name: share * (fold + 1) - len(dealt[name]) for name, share in shares.items()}
        dealt[max(("train", "test", "val"), key=lambda name: deficit[name])].append(fold)
    return dealt["test"], dealt["val"]


def split_summary(splits: dict[str, list[Record]]) -> dict:
    summary = {}
    for name, records in splits.items():
        summary[f"{name}_size"] = len(records)
        summary[f"{name}_ai"] = sum(record.label == "AI" for record in records)
        summary[f"{name}_groups"] = len({record.group for record in records})
    return summary
