"""The page's trainable head in NumPy: a linear layer over the frozen backbone's embedding, trained with Adam.

The twin of web/src/head.ts, step for step (mini-batches in the examples' order, no shuffling), so the browser tests
can check that the page trains to the same weights, and the federated Python clients train as the browsers do. Written
out rather than taken from PyTorch because the federated clients run where torch is not installed (.venv-serve) and the
head is one matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinydetect.core.errors import UserError
from tinydetect.evaluation.metrics import probability_ai

ADAM_BETAS, ADAM_EPSILON = (0.9, 0.999), 1e-8


@dataclass(frozen=True)
class Head:
    """logits = embedding @ weight.T + bias; rows by label (HUMAN, AI)."""

    weight: np.ndarray  # labels x features
    bias: np.ndarray  # labels

    @classmethod
    def from_json(cls, fields: dict) -> Head:
        return cls(np.asarray(fields["weight"], dtype=np.float64), np.asarray(fields["bias"], dtype=np.float64))

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray]) -> Head:
        """From Flower's parameter list: [weight, bias]."""
        weight, bias = arrays
        return cls(np.asarray(weight, dtype=np.float64), np.asarray(bias, dtype=np.float64))

    def to_json(self) -> dict:
        return {"weight": self.weight.tolist(), "bias": self.bias.tolist()}

    def arrays(self) -> list[np.ndarray]:
        return [self.weight, self.bias]

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        return np.asarray(embeddings, dtype=np.float64) @ self.weight.T + self.bias

    def probability_ai(self, embeddings: np.ndarray) -> np.ndarray:
        return probability_ai(self.logits(embeddings))

    def accuracy(self, embeddings: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(self.logits(embeddings).argmax(axis=1) == np.asarray(labels)))


def mean_loss(head: Head, embeddings: np.ndarray, labels: np.ndarray) -> float:
    logits = head.logits(embeddings)
    logits = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_probabilities[np.arange(len(labels)), labels].mean())


def _gradient(head: Head, embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits = head.logits(embeddings)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    probabilities[np.arange(len(labels)), labels] -= 1  # d(loss)/d(logits), per example
    errors = probabilities / len(labels)
    return errors.T @ embeddings, errors.sum(axis=0)


def train_head(start: Head, embeddings: np.ndarray, labels: Sequence[int], epochs: int, learning_rate: float,
               batch_size: int) -> tuple[Head, list[float]]:
    """Adam on the mean cross-entropy from `start`; the trained head and the loss after each epoch."""
    embeddings, labels = np.asarray(embeddings, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        raise UserError("no feedback to train on: the client has no labelled texts")
    params = np.concatenate([start.weight.ravel(), start.bias])
    first_moment, second_moment = np.zeros_like(params), np.zeros_like(params)
    shape, losses, step = start.weight.shape, [], 0
    unpack = lambda values: Head(values[:start.weight.size].reshape(shape), values[start.weight.size:].copy())  # noqa: E731
    for _ in range(epochs):
        for first in range(0, len(labels), batch_size):
            step += 1
            grad_weight, grad_bias = _gradient(unpack(params), embeddings[first:first + batch_size],
                                               labels[first:first + batch_size])
            grad = np.concatenate([grad_weight.ravel(), grad_bias])
            first_moment = ADAM_BETAS[0] * first_moment + (1 - ADAM_BETAS[0]) * grad
            second_moment = ADAM_BETAS[1] * second_moment + (1 - ADAM_BETAS[1]) * grad * grad
            corrected_first = first_moment / (1 - ADAM_BETAS[0] ** step)
            corrected_second = second_moment / (1 - ADAM_BETAS[1] ** step)
            params = params - learning_rate * corrected_first / (np.sqrt(corrected_second) + ADAM_EPSILON)
        losses.append(mean_loss(unpack(params), embeddings, labels))
    return unpack(params), losses
