"""The page's trainable head in NumPy: a fixed standardization, then a linear layer trained with Adam.

The twin of web/src/head.ts, step for step, so the browser tests can check that the page trains to the same weights
and the federated Python clients train as the browsers do. Written out rather than taken from PyTorch because the
federated clients run where torch is not installed (.venv-serve) and the head is one matrix.

Training on a user's corrections (`train_head`):
- **The label keeps its meaning.** The page labels a text AI when p(AI) reaches the threshold of its language (the
  shipped cut, e.g. 1% FPR on val), not 0.5. Each example's loss is taken on its AI logit less logit(cut), so the
  boundary the corrections teach is exactly where that cut falls.
- **Prior correction first.** On a new domain the shipped head can be far off for every text (the demo's says
  p(AI) ~ 1e-4 for every L2R blog); before Adam the AI bias is moved so that the examples' mean log-odds equal their
  AI share's (clipped to 5-95%), the correction for a shifted prior (Saerens et al., 2002).
- **Labels interleaved.** A user marks texts in runs of one label; mini-batches in that order pull the head one way,
  then the other. The examples are taken HUMAN, AI, HUMAN, AI... (each label in its own order), which needs no
  random generator shared with the page.
- **The step shrinks to zero.** Adam's learning rate falls linearly over the run's steps, so training settles by the
  last epoch it is given instead of bouncing (at a constant rate the loss rose and fell between epochs by up to 0.4):
  with one example a step, 5 epochs get within about 0.01 of the held-out accuracy of 60 (benchmarks/web.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from tinydetect.core.errors import UserError
from tinydetect.core.records import LABELS
from tinydetect.decision.probability import probability_ai
from tinydetect.decision.threshold import is_ai

ADAM_BETAS, ADAM_EPSILON = (0.9, 0.999), 1e-8
PRIOR_CLIP = 0.05
AI = LABELS.index("AI")


@dataclass(frozen=True)
class Head:
    """logits = ((embedding - mean) / scale) @ weight.T + bias; rows by label (HUMAN, AI). `weight` and `bias` are what
    training and federated averaging change; `mean` and `scale` are fixed by the assets."""

    weight: np.ndarray  # labels x features
    bias: np.ndarray  # labels
    mean: np.ndarray  # features
    scale: np.ndarray  # features

    @classmethod
    def from_json(cls, fields: dict) -> Head:
        weight = np.asarray(fields["weight"], dtype=np.float64)
        features = weight.shape[1]
        return cls(weight, np.asarray(fields["bias"], dtype=np.float64),
                   np.asarray(fields.get("mean", np.zeros(features)), dtype=np.float64),
                   np.asarray(fields.get("scale", np.ones(features)), dtype=np.float64))

    def with_arrays(self, arrays: Sequence[np.ndarray]) -> Head:
        """This head with Flower's parameter list [weight, bias] in place of its own."""
        weight, bias = arrays
        return replace(self, weight=np.asarray(weight, dtype=np.float64), bias=np.asarray(bias, dtype=np.float64))

    def to_json(self) -> dict:
        return {"weight": self.weight.tolist(), "bias": self.bias.tolist(), "mean": self.mean.tolist(),
                "scale": self.scale.tolist()}

    def arrays(self) -> list[np.ndarray]:
        return [self.weight, self.bias]

    def standardized(self, embeddings: np.ndarray) -> np.ndarray:
        return (np.asarray(embeddings, dtype=np.float64) - self.mean) / self.scale

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        return self.standardized(embeddings) @ self.weight.T + self.bias

    def probability_ai(self, embeddings: np.ndarray) -> np.ndarray:
        return probability_ai(self.logits(embeddings))

    def accuracy(self, embeddings: np.ndarray, labels: Sequence[int], cuts: np.ndarray | float = 0.5) -> float:
        """Share of texts labelled right, AI where p(AI) reaches the text's cut."""
        return float(np.mean(is_ai(self.probability_ai(embeddings), cuts) == (np.asarray(labels) == AI)))


def interleaved(labels: Sequence[int]) -> list[int]:
    """Example indices taking the labels in turn (HUMAN, AI, HUMAN, ...), each label's examples in their order.

    >>> interleaved([0, 0, 0, 1, 1])
    [0, 3, 1, 4, 2]
    """
    queues = [[i for i, label in enumerate(labels) if label == value] for value in range(len(LABELS))]
    order = []
    while any(queues):
        order += [queue.pop(0) for queue in queues if queue]
    return order


def _loss_and_gradient(weight, bias, features, labels, offsets):
    logits = features @ weight.T + bias
    logits[:, AI] -= offsets  # the loss sees the AI logit less logit(cut): its boundary is the cut
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    loss = float(-np.log(probabilities[np.arange(len(labels)), labels]).mean())
    probabilities[np.arange(len(labels)), labels] -= 1  # d(loss)/d(logits), per example
    errors = probabilities / len(labels)
    return loss, errors.T @ features, errors.sum(axis=0)


def prior_corrected(head: Head, features: np.ndarray, labels: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The bias with its AI entry moved so that the examples' mean log-odds (less their cut's) equal their AI share's."""
    logits = features @ head.weight.T + head.bias
    log_odds = logits[:, AI] - logits[:, 1 - AI] - offsets
    share = float(np.clip(np.mean(labels == AI), PRIOR_CLIP, 1 - PRIOR_CLIP))
    bias = head.bias.copy()
    bias[AI] += np.log(share / (1 - share)) - log_odds.mean()
    return bias


def train_head(start: Head, embeddings: np.ndarray, labels: Sequence[int], cuts: Sequence[float], epochs: int,
               learning_rate: float, batch_size: int) -> tuple[Head, list[float]]:
    """Adam on the cross-entropy at each example's cut, its rate falling linearly to zero (module docstring); the
    trained head and the mean loss over the examples after each epoch."""
    if len(labels) == 0:
        raise UserError("no feedback to train on: mark some texts first")
    order = interleaved(list(labels))
    features = start.standardized(embeddings)[order]
    labels = np.asarray(labels, dtype=np.int64)[order]
    offsets = np.log(np.asarray(cuts, dtype=np.float64) / (1 - np.asarray(cuts, dtype=np.float64)))[order]
    weight, bias = start.weight.copy(), prior_corrected(start, features, labels, offsets)
    moments = [np.zeros_like(weight), np.zeros_like(bias)], [np.zeros_like(weight), np.zeros_like(bias)]
    losses, step, steps = [], 0, epochs * math.ceil(len(labels) / batch_size)
    for _ in range(epochs):
        for first in range(0, len(labels), batch_size):
            batch = slice(first, first + batch_size)
            _, *grads = _loss_and_gradient(weight, bias, features[batch], labels[batch], offsets[batch])
            rate = learning_rate * (1 - step / steps)
            step += 1
            weight, bias = (_adam(param, grad, first_moment, second_moment, step, rate)
                            for param, grad, first_moment, second_moment in zip((weight, bias), grads, *moments,
                                                                               strict=True))
        losses.append(_loss_and_gradient(weight, bias, features, labels, offsets)[0])
    return replace(start, weight=weight, bias=bias), losses


def _adam(param, grad, first_moment, second_moment, step, learning_rate):
    """One Adam step; updates the moment arrays in place, returns the new parameter."""
    first_moment *= ADAM_BETAS[0]
    first_moment += (1 - ADAM_BETAS[0]) * grad
    second_moment *= ADAM_BETAS[1]
    second_moment += (1 - ADAM_BETAS[1]) * grad * grad
    corrected_first = first_moment / (1 - ADAM_BETAS[0] ** step)
    corrected_second = second_moment / (1 - ADAM_BETAS[1] ** step)
    return param - learning_rate * corrected_first / (np.sqrt(corrected_second) + ADAM_EPSILON)
