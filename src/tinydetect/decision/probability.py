"""P(AI) from a model's two logits: the one conversion every surface uses."""

from __future__ import annotations

import numpy as np


def probability_ai(logits: np.ndarray) -> np.ndarray:
    """Softmax probability of the AI class (column 1), shape (n,), in the logits' dtype.

    >>> probability_ai(np.array([[0.0, 0.0], [0.0, np.log(3.0)]]))
    array([0.5 , 0.75])
    """
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted[:, 1] / shifted.sum(axis=1)
