"""Folds for cross-fitting: each text scored by a model fitted without it (the distillation teacher's soft labels).

Held-out folds follow the groups (a text and its rewrites leave together) wherever that leaves
both labels to fit on. When one label sits in too few groups for that (KatFish's AI essays come
in a handful of topics; a train split may hold one), the folds are drawn over texts, stratified
by label: a held-out text's topic is then seen in fitting, which makes its score somewhat more
confident than a truly unseen text's, but a one-label fit cannot score anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold


def cross_fit_folds(labels: np.ndarray, groups: Sequence[str], seed: int,
                    folds: int = 5) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(kept, held) index pairs covering every text once as held; at least 2 folds (fewer texts: none)."""
    groups = np.asarray(groups)
    folds = min(folds, int(min(labels.sum(), (1 - labels).sum())))
    if folds < 2:
        return iter(())
    placeholder = np.zeros(len(labels))
    if len(set(groups)) >= folds:
        by_group = list(StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
                        .split(placeholder, labels, groups))
        if all(len(np.unique(labels[kept])) == 2 for kept, _ in by_group):
            return iter(by_group)
    return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(placeholder, labels)
