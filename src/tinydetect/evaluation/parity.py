"""How closely a compressed or exported variant reproduces the model it was made from."""

from __future__ import annotations

import numpy as np

from tinydetect.core.errors import UserError
from tinydetect.decision.probability import probability_ai


def parity(source_logits: np.ndarray, variant_logits: np.ndarray, threshold: float | np.ndarray,
           margin: float = 0.0) -> dict[str, float]:
    """Max logit difference and label agreement on the same texts; both sides use the source's threshold
    (one for all, or each text's: `Threshold.for_texts`).

    `decided_label_agreement` counts only texts the source is not on the fence about: those whose
    logit margin (AI minus HUMAN) lies more than `margin` from the threshold's. A text scored right
    at the cut lands on either side of it after any rounding of the weights; when a threshold sits
    where many val scores crowd (a 1%-FPR cut often does), a variant 0.09 logits from its source
    flipped 2% of L2R's val labels, all of them within 0.09 of the cut.

    >>> parity(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.0, 0.9], [0.2, 0.1]]), 0.5)
    {'max_abs_logit_diff': 0.8, 'label_agreement': 1.0, 'decided_label_agreement': 1.0}
    """
    source_labels = probability_ai(source_logits) > threshold
    variant_labels = probability_ai(variant_logits) > threshold
    cut_probability = np.asarray(threshold, dtype=float)
    with np.errstate(divide="ignore"):  # a cut of 0 or 1 is a margin of -inf or +inf
        cut = np.log(cut_probability) - np.log1p(-cut_probability)
    decided = np.abs((source_logits[:, 1] - source_logits[:, 0]) - cut) > margin
    agree = source_labels == variant_labels
    return {
        "max_abs_logit_diff": round(float(np.abs(source_logits - variant_logits).max()), 6),
        "label_agreement": float(np.mean(agree)),
        "decided_label_agreement": float(np.mean(agree[decided])) if decided.any() else 1.0,
    }


def check_parity(name: str, source_name: str, source_logits: np.ndarray, variant_logits: np.ndarray,
                 threshold: float | np.ndarray, max_disagreement: float, limit_param: str,
                 margin: float = 0.0) -> dict[str, float]:
    """Parity metrics for one variant; a variant that flips too many decided labels stops the stage.

    `limit_param` is the params key that set `max_disagreement`, so the error says what to change.
    """
    result = parity(source_logits, variant_logits, threshold, margin)
    disagreement = 1.0 - result["decided_label_agreement"]
    if disagreement > max_disagreement:
        within = f" not within {margin:g} logits of the threshold" if margin else ""
        raise UserError(
            f"{name} disagrees with {source_name} on {disagreement:.1%} of the val labels{within} "
            f"(limit {max_disagreement:.1%}, {limit_param} in params.yaml); "
            f"max logit difference {result['max_abs_logit_diff']}, all labels agree on {result['label_agreement']:.1%}"
        )
    return result
