"""A TF-IDF + logistic-regression reference, so every detector figure has a yardstick.

Character n-grams (within word boundaries) work for English and Korean alike without
a language-specific tokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from tinydetect.core.records import Record


def train_baseline(train_records: Sequence[Record], max_features: int, seed: int) -> Pipeline:
    baseline = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), max_features=max_features, sublinear_tf=True),
        LogisticRegression(max_iter=2000, C=4.0, random_state=seed),
    )
    baseline.fit([record.text for record in train_records], [record.label_int for record in train_records])
    return baseline


def baseline_probability_ai(baseline: Pipeline, records: Sequence[Record]) -> np.ndarray:
    return baseline.predict_proba([record.text for record in records])[:, 1]
