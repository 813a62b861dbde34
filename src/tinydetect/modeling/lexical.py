"""The lexical branch: a TF-IDF logistic regression over token n-grams, computed inside the model's graph.

Measured on the quality benchmarks' splits (see docs/detector.md, `benchmarks/lexical_features.py`), a logistic
regression on sublinear TF-IDF of token unigrams and hashed bigrams over a text's first 510 tokens beats the
character n-gram baseline on L2R (ROC-AUC 0.935 vs 0.931 on today's split and tokenizer; 0.952 vs 0.935 when it
was chosen) and ties it on KatFish; over the 126 tokens BERT reads it loses a little, and as the mean over n-grams
(the fastText-style bag of n-grams this replaces) it scores 0.88 on L2R. So the branch reads more of the text than
BERT does (`model.lexical_max_length`), weights n-grams as TF-IDF does, and is fitted by
scikit-learn to convergence (a convex problem: gradient steps beside BERT's never got there).

In the graph, for the n-gram at position i with count c_i in its text (ids compared pairwise:
Equal, Cast, ReduceSum), idf_i and weight w_i (Gather), and mask m_i:

    logit_AI = sum_i m_i w_i idf_i (1 + ln c_i) / c_i  /  sqrt(sum_i m_i idf_i^2 (1 + ln c_i)^2 / c_i)  +  b

which equals scikit-learn's `TfidfTransformer(sublinear_tf=True)` + `LogisticRegression` on the
counts (each distinct n-gram's c_i positions share its one term). Plain ops that ONNX and Core ML
export as they are. Bigram ids are `(first * vocab_size + second) % buckets`, offset by the vocabulary.

BERT learns on its own (the branch detached from the model while it trains, so early stopping selects BERT's
epoch by BERT's own val ROC-AUC; with the branch's cross-fitted logits as a fixed offset instead, a
KatFish run's val ROC-AUC was 0.9998 from the first epoch on, the branch's, so the first epoch's
barely trained BERT shipped, its logits spread under 0.005), then `fuse` weighs the two on val:
a two-feature logistic regression on (BERT's logit margin, the branch's logit), folded into the
classifier's and the branch's weights, so the graph is unchanged: logit_AI - logit_HUMAN = a * BERT + b * branch + c.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import torch
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression


def _pair_ids(input_ids, vocab_size: int, buckets: int):
    """Hashed bigram ids, offset past the vocabulary so unigrams and bigrams share one id space."""
    return (input_ids[:, :-1] * vocab_size + input_ids[:, 1:]) % buckets + vocab_size


def _terms(ids: torch.Tensor, mask: torch.Tensor, idf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per position: its share of the text's TF-IDF term, (1 + ln c) / c * idf, and of the squared norm."""
    same = (ids[:, :, None] == ids[:, None, :]).to(mask.dtype) * mask[:, None, :]  # (batch, seq, seq)
    count = same.sum(-1).clamp_min(1.0)  # c_i; padding positions get 1 and are masked below
    sublinear = (1.0 + torch.log(count)) * mask
    return sublinear * idf / count, (sublinear * idf) ** 2 / count


class LexicalBranch(torch.nn.Module):
    """(input_ids, attention_mask) -> (batch, 2) logits [0, logit_AI] of the TF-IDF regression above."""

    def __init__(self, vocab_size: int, buckets: int):
        super().__init__()
        self.vocab_size, self.buckets = vocab_size, buckets
        # one row per unigram then per bigram bucket; Embedding tables so export sees a Gather
        self.weights = torch.nn.Embedding(vocab_size + buckets, 1)
        self.idf = torch.nn.Embedding(vocab_size + buckets, 1)
        self.bias = torch.nn.Parameter(torch.zeros(1))
        torch.nn.init.zeros_(self.weights.weight)  # unfitted: "no opinion", BERT's logits alone
        torch.nn.init.ones_(self.idf.weight)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.to(self.weights.weight.dtype)
        pair_mask = mask[:, :-1] * mask[:, 1:]
        numerator = torch.zeros_like(mask[:, 0])
        norm_squared = torch.zeros_like(mask[:, 0])
        for ids, ids_mask in ((input_ids, mask), (_pair_ids(input_ids, self.vocab_size, self.buckets), pair_mask)):
            term, square = _terms(ids, ids_mask, self.idf(ids)[..., 0])
            numerator = numerator + (term * self.weights(ids)[..., 0]).sum(-1)
            norm_squared = norm_squared + square.sum(-1)
        logit = numerator / norm_squared.clamp_min(1e-12).sqrt() + self.bias
        return torch.stack([torch.zeros_like(logit), logit], dim=-1)

    def counts(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> scipy.sparse.csr_matrix:
        """The n-gram count matrix (texts x (vocab + buckets)) the graph computes on, for scikit-learn."""
        mask = attention_mask.astype(bool)
        pairs = _pair_ids(input_ids, self.vocab_size, self.buckets)
        rows = [np.nonzero(mask)[0], np.nonzero(mask[:, :-1] & mask[:, 1:])[0]]
        columns = [input_ids[mask], pairs[mask[:, :-1] & mask[:, 1:]]]
        shape = (len(input_ids), self.vocab_size + self.buckets)
        counts = scipy.sparse.coo_matrix((np.ones(sum(map(len, rows))), (np.concatenate(rows), np.concatenate(columns))),
                                         shape=shape)
        return counts.tocsr()  # duplicates summed: counts

    @torch.no_grad()
    def fit(self, counts: scipy.sparse.csr_matrix, labels: np.ndarray, inverse_regularization: float, seed: int) -> None:
        """Set idf, weights and bias from scikit-learn's TF-IDF + logistic regression on `counts`."""
        tfidf, regression = fit_regression(counts, labels, inverse_regularization, seed)
        self.idf.weight.copy_(torch.from_numpy(tfidf.idf_).to(self.idf.weight.dtype)[:, None])
        self.weights.weight.copy_(torch.from_numpy(regression.coef_[0]).to(self.weights.weight.dtype)[:, None])
        self.bias.copy_(torch.tensor(regression.intercept_, dtype=self.bias.dtype))


def fit_regression(counts, labels: np.ndarray, inverse_regularization: float,
                   seed: int) -> tuple[TfidfTransformer, LogisticRegression]:
    tfidf = TfidfTransformer(sublinear_tf=True)
    features = tfidf.fit_transform(counts)
    regression = LogisticRegression(C=inverse_regularization, max_iter=5000, random_state=seed)
    regression.fit(features, labels)
    return tfidf, regression


@torch.no_grad()
def fuse(model: torch.nn.Module, encoder_margin: np.ndarray, branch_logit: np.ndarray, labels: np.ndarray,
         seed: int) -> dict[str, float]:
    """Weigh BERT and the branch by a logistic regression on val, folded into `model`'s weights in place.

    Mildly regularised (C=1): on a val split the two already separate, an unregularised fit would grow
    without bound. A negative weight is not kept: the two scores are correlated and val is small, so
    the fit can give one a negative weight that only fits val's noise (the demo's first run: -0.12 on
    an encoder whose own val ROC-AUC was 0.94); the part with the positive weight is then fitted alone.
    Returns the weights (a, b, c) for the metrics.
    """
    features = np.c_[encoder_margin, branch_logit]
    regression = LogisticRegression(C=1.0, random_state=seed).fit(features, labels)
    weights, offset = regression.coef_[0].copy(), float(regression.intercept_[0])
    if (weights < 0).any():
        kept = int(np.argmax(weights))
        alone = LogisticRegression(C=1.0, random_state=seed).fit(features[:, [kept]], labels)
        weights = np.where(np.arange(2) == kept, alone.coef_[0][0], 0.0)
        offset = float(alone.intercept_[0])
    encoder_weight, branch_weight = (float(weight) for weight in weights)
    model.classifier.weight.mul_(encoder_weight)
    model.classifier.bias.mul_(encoder_weight)
    model.lexical.weights.weight.mul_(branch_weight)
    model.lexical.bias.mul_(branch_weight).add_(offset)
    return {"encoder_weight": encoder_weight, "branch_weight": branch_weight, "offset": offset}
