"""The decision threshold on P(AI): one cut for every text, and one per language where val allows it.

A bilingual model's scores are not on one scale across languages. Measured on the bilingual benchmark
(L2R + KatFish + NSMC, `benchmarks/results/quality_both.json`): Korean AI essays scored a median P(AI) of
0.44, English human texts up to 0.98, so no single 1%-FPR cut labelled more than one Korean AI essay in 51
although the Korean slice ranked almost perfectly. With `eval.threshold_per_language`, each language with
human and AI texts in val gets its own cut, chosen by the same policy on that language's val texts alone,
provided val holds enough of its human texts to estimate the target rate (`1 / target_fpr`: 100 at 1%);
any other language, and the model's headline `threshold`, use the cut chosen on all of val. Why the floor:
on the demo, English val held 31 human texts; their highest score set an English cut of 0.13, and 6 of 83
human test texts landed above it (test FPR 0.072, against 0.000 at the pooled cut).

At inference the language is the record's `lang` (the data's, or `guess_lang`'s when the file has none),
or `guess_lang` of the text where only text is given (`tinydetect predict`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tinydetect.core.records import guess_lang
from tinydetect.evaluation.metrics import choose_threshold_by


def is_ai(p_ai, cut):
    """The one labelling rule, everywhere a label is given: AI when P(AI) is above the cut (the cut itself is HUMAN).

    >>> is_ai(np.array([0.4, 0.5, 0.6]), 0.5).tolist()
    [False, False, True]
    """
    return p_ai > cut


@dataclass(frozen=True)
class Threshold:
    """`pooled`: the cut for any text; `by_language`: the cut for texts of that language, where chosen."""

    pooled: float
    by_language: Mapping[str, float] = field(default_factory=dict)

    def per_text(self, languages: Sequence[str | None]) -> np.ndarray:
        """Each text's cut, by its language.

        >>> Threshold(0.9, {"ko": 0.2}).per_text(["en", "ko", None]).tolist()
        [0.9, 0.2, 0.9]
        """
        return np.array([self.by_language.get(lang, self.pooled) for lang in languages], dtype=float)

    def for_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's cut, its language guessed from its script (where no record says it)."""
        if not self.by_language:
            return np.full(len(texts), self.pooled)
        return self.per_text([guess_lang(text) for text in texts])

    def to_json(self) -> dict:
        """The `detector.json` fields: `threshold` always, `thresholds_by_language` where there are any."""
        fields: dict = {"threshold": self.pooled}
        if self.by_language:
            fields["thresholds_by_language"] = dict(sorted(self.by_language.items()))
        return fields

    @classmethod
    def from_json(cls, settings: Mapping) -> Threshold:
        """Read back `to_json`'s fields (a folder written before per-language cuts has `threshold` alone)."""
        by_language = settings.get("thresholds_by_language") or {}
        if not isinstance(by_language, Mapping):
            raise TypeError(f"thresholds_by_language is {type(by_language).__name__}, not an object")
        return cls(float(settings["threshold"]), {str(lang): float(cut) for lang, cut in by_language.items()})

    def rounded(self, digits: int = 6) -> dict:
        """`to_json` rounded, for metrics files."""
        fields = self.to_json()
        fields["threshold"] = round(fields["threshold"], digits)
        if "thresholds_by_language" in fields:
            fields["thresholds_by_language"] = {lang: round(cut, digits)
                                                for lang, cut in fields["thresholds_by_language"].items()}
        return fields


def min_human_texts(target_fpr: float) -> float:
    """The fewest val human texts of a language that can set its own cut: one expected false positive.

    >>> min_human_texts(0.01), min_human_texts(0.05), min_human_texts(0.0)
    (100, 20, inf)
    """
    return math.ceil(1 / target_fpr - 1e-9) if target_fpr > 0 else math.inf


def threshold_from_val(policy: str, labels: np.ndarray, p_ai: np.ndarray, target_fpr: float,
                     domains: Sequence[str | None] | None = None, languages: Sequence[str | None] | None = None,
                     per_language: bool = False) -> Threshold:
    """The policy's cut on val (`evaluation.metrics.choose_threshold_by`) and, with `per_language`, the policy's
    cut on each language's val texts alone, for every language of val that holds AI texts and at least
    `min_human_texts(target_fpr)` human ones (the others fall back to the pooled cut).

    >>> labels = np.array([0] * 100 + [1] * 10 + [0] * 100 + [1] * 10)
    >>> p_ai = np.concatenate([np.linspace(0.0, 0.8, 100), [0.9] * 10, np.linspace(0.0, 0.1, 100), [0.3] * 10])
    >>> cuts = threshold_from_val("target_fpr_pooled", labels, p_ai, 0.01, languages=["en"] * 110 + ["ko"] * 110,
    ...                           per_language=True)
    >>> round(cuts.pooled, 3), {lang: round(cut, 3) for lang, cut in cuts.by_language.items()}
    (0.784, {'en': 0.792, 'ko': 0.099})
    """
    labels, p_ai = np.asarray(labels), np.asarray(p_ai)
    domain_list = list(domains) if domains is not None else [None] * len(labels)
    pooled = choose_threshold_by(policy, labels, p_ai, target_fpr, domain_list)
    if not per_language or languages is None or len(set(languages)) < 2:
        return Threshold(pooled)
    language_of = np.array([str(lang) for lang in languages])
    by_language = {}
    for lang in sorted(set(language_of.tolist())):
        mine = language_of == lang
        if labels[mine].any() and np.sum(labels[mine] == 0) >= min_human_texts(target_fpr):
            by_language[lang] = choose_threshold_by(policy, labels[mine], p_ai[mine], target_fpr,
                                                    [domain for domain, keep in zip(domain_list, mine, strict=True) if keep])
    return Threshold(pooled, by_language)
