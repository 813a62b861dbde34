"""The decision threshold on P(AI): one cut for every text, and one per language where val allows it.

A bilingual model's scores are not on one scale across languages. Measured on the bilingual benchmark
(L2R + KatFish + NSMC, `benchmarks/results/quality_both.json`): Korean AI essays scored a median P(AI) of
0.44, English human texts up to 0.98, so no single 1%-FPR cut labelled more than one Korean AI essay in 51
although the Korean slice ranked almost perfectly. With `eval.threshold_per_language`, each language with
human and AI texts in val gets its own cut, chosen by the same policy on that language's val texts alone;
any other language, and the model's headline `threshold`, use the cut chosen on all of val.

At inference the language is the record's `lang` (the data's, or `guess_lang`'s when the file has none),
or `guess_lang` of the text where only text is given (`tinydetect predict`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tinydetect.core.records import guess_lang
from tinydetect.evaluation.metrics import choose_threshold_by


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


def threshold_from_val(policy: str, labels: np.ndarray, p_ai: np.ndarray, target_fpr: float,
                     domains: Sequence[str | None] | None = None, languages: Sequence[str | None] | None = None,
                     per_language: bool = False) -> Threshold:
    """The policy's cut on val (`evaluation.metrics.choose_threshold_by`) and, with `per_language`, the policy's
    cut on each language's val texts alone, for every language of val that holds both labels (the others
    fall back to the pooled cut).

    >>> labels = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    >>> p_ai = np.array([0.1, 0.8, 0.9, 0.95, 0.05, 0.1, 0.3, 0.4])
    >>> threshold_from_val("target_fpr_pooled", labels, p_ai, 0.0, languages=["en"] * 4 + ["ko"] * 4,
    ...                  per_language=True)
    Threshold(pooled=0.8, by_language={'en': 0.8, 'ko': 0.1})
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
        if len(np.unique(labels[mine])) == 2:
            by_language[lang] = choose_threshold_by(policy, labels[mine], p_ai[mine], target_fpr,
                                                    [domain for domain, keep in zip(domain_list, mine, strict=True) if keep])
    return Threshold(pooled, by_language)
