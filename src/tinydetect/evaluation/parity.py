"""How closely a compressed or exported variant reproduces the model it was made from."""

from __future__ import annotations

import numpy as np

from tinydetect.core.errors import UserError
from tinydetect.evaluation.metrics import probability_ai


def parity(source_logits: np.ndarray, variant_logits: np.ndarray, threshold: float) -> dict[str, float]:
    """Max logit difference and label agreement on the same texts; both sides use the source's threshold.

    >>> parity(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.0, 0.9], [0.2, 0.1]]), 0.5)
    {'max_abs_logit_diff': 0.8, 'label_agreement': 1.0}
    """
    source_labels = probability_ai(source_logits) > threshold
    variant_labels = probability_ai(variant_logits) > threshold
    return {
        "max_abs_logit_diff": round(float(np.abs(source_logits - variant_logits).max()), 6),
        "label_agreement": float(np.mean(source_labels == variant_labels)),
    }


def check_parity(name: str, source_name: str, source_logits: np.ndarray, variant_logits: np.ndarray,
                 threshold: float, max_disagreement: float, limit_param: str) -> dict[str, float]:
    """Parity metrics for one variant; a variant that flips too many labels stops the stage.

    `limit_param` is the params key that set `max_disagreement`, so the error says what to change.
    """
    result = parity(source_logits, variant_logits, threshold)
    disagreement = 1.0 - result["label_agreement"]
    if disagreement > max_disagreement:
        raise UserError(
            f"{name} disagrees with {source_name} on {disagreement:.1%} of val labels "
            f"(limit {max_disagreement:.1%}, {limit_param} in params.yaml); "
            f"max logit difference {result['max_abs_logit_diff']}"
        )
    return result
