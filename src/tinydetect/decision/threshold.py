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
from scipy.stats import binomtest

from tinydetect.core.records import guess_lang, script_language
from tinydetect.decision.familiarity import Familiarity
from tinydetect.decision.policies import choose_threshold_by

AI, HUMAN, UNSURE = "AI", "HUMAN", "UNSURE"
# reasons for UNSURE, said in words on every surface (predict's `reason`, the served `reason`, the page)
BETWEEN_CUTS = "between the cuts"
UNSEEN_SCRIPT = "a script the model has no cut for"
UNSEEN_LANGUAGE = "a language the model has no cut for"
TOO_SHORT = "too few words to judge"
UNFAMILIAR = "unlike the texts the model was trained on"

def is_ai(p_ai, cut):
    """The one labelling rule, everywhere a label is given: AI when P(AI) is above the cut (the cut itself is HUMAN).

    >>> is_ai(np.array([0.4, 0.5, 0.6]), 0.5).tolist()
    [False, False, True]
    """
    return p_ai > cut


def word_count(text: str) -> int:
    """Words as whitespace separates them (a Korean eojeol is one).

    >>> word_count("  two words "), word_count("오늘은 비가 왔다.")
    (2, 3)
    """
    return len(text.split())


@dataclass(frozen=True)
class Threshold:
    """The cuts on P(AI) that give a text its label, chosen on val (`threshold_from_val`).

    `pooled` / `by_language`: above it, AI. `human` / `human_by_language`: at or below it, HUMAN; between the two,
    UNSURE. A folder written before three labels has no `human` cut: its label is AI or HUMAN only. `languages`: those
    val had human texts of (a text of another gets UNSURE); `min_words`: shorter texts get UNSURE; `rates`: what each
    cut promises, as measured on val and any out-of-fold texts pooled with it (`label_rates` in detector.json); `familiarity`: a text with more words the train
    split never held than it allows gets UNSURE (`decision.familiarity`)."""

    pooled: float
    by_language: Mapping[str, float] = field(default_factory=dict)
    human: float | None = None
    human_by_language: Mapping[str, float] = field(default_factory=dict)
    languages: tuple[str, ...] = ()
    min_words: int = 0
    rates: Mapping[str, dict] = field(default_factory=dict)
    familiarity: Familiarity | None = None

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

    def label(self, p_ai: float, text: str, lang: str | None = None) -> tuple[str, str | None]:
        """(label, reason) of one text: the one rule of every surface. `lang`: the record's, else read from the script.

        >>> cuts = Threshold(0.9, human=0.3, languages=("en",), min_words=3)
        >>> [cuts.label(p, "three whole words") for p in (0.95, 0.9, 0.5, 0.3)]
        [('AI', None), ('UNSURE', 'between the cuts'), ('UNSURE', 'between the cuts'), ('HUMAN', None)]
        >>> cuts.label(0.99, "two words"), cuts.label(0.99, "Это русский текст здесь"), cuts.label(0.99, "한국어 문장 하나")
        (('UNSURE', 'too few words to judge'), ('UNSURE', 'a script the model has no cut for'), ('UNSURE', 'a language the model has no cut for: ko'))
        >>> Threshold(0.9).label(0.5, "a folder of before: AI or HUMAN")
        ('HUMAN', None)
        """
        script = script_language(text)
        lang = lang or script or guess_lang(text)
        ai_cut = self.by_language.get(lang, self.pooled)
        if self.human is None:
            return (AI if is_ai(p_ai, ai_cut) else HUMAN), None
        if script is None:
            return UNSURE, UNSEEN_SCRIPT
        if self.languages and lang not in self.languages:
            return UNSURE, f"{UNSEEN_LANGUAGE}: {lang}"
        if word_count(text) < self.min_words:
            return UNSURE, TOO_SHORT
        if self.familiarity is not None and self.familiarity.is_unfamiliar(text, lang):
            return UNSURE, UNFAMILIAR
        if is_ai(p_ai, ai_cut):
            return AI, None
        if p_ai <= self.human_by_language.get(lang, self.human):
            return HUMAN, None
        return UNSURE, BETWEEN_CUTS

    def labels(self, p_ai: Sequence[float], texts: Sequence[str],
               languages: Sequence[str | None] | None = None) -> list[tuple[str, str | None]]:
        """`label` of each text."""
        languages = languages if languages is not None else [None] * len(texts)
        return [self.label(float(p), text, lang) for p, text, lang in zip(p_ai, texts, languages, strict=True)]

    def to_json(self) -> dict:
        """The `detector.json` fields: `threshold` always, the others where there are any."""
        fields: dict = {"threshold": self.pooled}
        if self.by_language:
            fields["thresholds_by_language"] = dict(sorted(self.by_language.items()))
        if self.human is not None:
            fields["human_threshold"] = self.human
            fields["human_thresholds_by_language"] = dict(sorted(self.human_by_language.items()))
            fields["languages"] = list(self.languages)
            fields["min_words"] = self.min_words
            fields["label_rates"] = dict(self.rates)
        if self.familiarity is not None:
            fields["familiarity"] = self.familiarity.to_json()
        return fields

    @classmethod
    def from_json(cls, settings: Mapping) -> Threshold:
        """Read back `to_json`'s fields (a folder written before per-language cuts has `threshold` alone)."""
        cuts = {}
        for key in ("thresholds_by_language", "human_thresholds_by_language"):
            by_language = settings.get(key) or {}
            if not isinstance(by_language, Mapping):
                raise TypeError(f"{key} is {type(by_language).__name__}, not an object")
            cuts[key] = {str(lang): float(cut) for lang, cut in by_language.items()}
        human = settings.get("human_threshold")
        familiarity = settings.get("familiarity")
        return cls(float(settings["threshold"]), cuts["thresholds_by_language"],
                   None if human is None else float(human), cuts["human_thresholds_by_language"],
                   tuple(str(lang) for lang in settings.get("languages") or ()), int(settings.get("min_words") or 0),
                   dict(settings.get("label_rates") or {}),
                   None if familiarity is None else Familiarity.from_json(familiarity))

    def rounded(self, digits: int = 6) -> dict:
        """`to_json` rounded, for metrics files (the familiarity's cuts without its bitmap)."""
        fields = self.to_json()
        if "familiarity" in fields:
            fields["familiarity"] = {key: value for key, value in fields["familiarity"].items() if key != "seen_words"}
        for key in ("threshold", "human_threshold"):
            if key in fields:
                fields[key] = round(fields[key], digits)
        for key in ("thresholds_by_language", "human_thresholds_by_language"):
            if key in fields:
                fields[key] = {lang: round(cut, digits) for lang, cut in fields[key].items()}
        return fields


@dataclass(frozen=True)
class OutOfFold:
    """Texts scored by a detector that never trained on them (the train split, out of fold: the calibrate stage),
    pooled with val's for the cuts: at 1% a cut on val's 90 human L2R texts is their highest score (TPR 0.15 on test
    where the curve allows 0.6); a few hundred more human texts put it near the 99th percentile it means."""

    labels: np.ndarray
    p_ai: np.ndarray
    domains: Sequence[str | None]
    languages: Sequence[str | None]

    def __len__(self) -> int:
        return len(self.labels)


def pooled_with(out_of_fold: OutOfFold | None, labels: np.ndarray, p_ai: np.ndarray, domains: list,
                languages: Sequence[str | None] | None) -> tuple[np.ndarray, np.ndarray, list, list | None]:
    """Val's labels, scores, domains and languages followed by the out-of-fold texts' (languages stay None where val
    has none: the model then has no per-language cuts).

    >>> extra = OutOfFold(np.array([0]), np.array([0.2]), ["blog"], ["en"])
    >>> pooled_with(extra, np.array([1]), np.array([0.9]), ["blog"], ["en"])
    (array([1, 0]), array([0.9, 0.2]), ['blog', 'blog'], ['en', 'en'])
    """
    if out_of_fold is None or not len(out_of_fold):
        return labels, p_ai, domains, None if languages is None else list(languages)
    return (np.concatenate([labels, out_of_fold.labels]), np.concatenate([p_ai, out_of_fold.p_ai]),
            domains + list(out_of_fold.domains),
            None if languages is None else list(languages) + list(out_of_fold.languages))


def min_human_texts(target_fpr: float) -> float:
    """The fewest val human texts of a language that can set its own cut: one expected false positive.

    >>> min_human_texts(0.01), min_human_texts(0.05), min_human_texts(0.0)
    (100, 20, inf)
    """
    return math.ceil(1 / target_fpr - 1e-9) if target_fpr > 0 else math.inf


def human_cut(labels: np.ndarray, p_ai: np.ndarray, target_fnr: float, ai_cut: float) -> float:
    """The HUMAN cut (`p <= cut` is HUMAN): the `target_fnr` quantile of the AI texts' scores, never above the AI cut
    (where AI and human scores do not overlap, everything not AI is HUMAN).

    >>> human_cut(np.array([0, 1, 1, 1, 1, 1]), np.array([0.1, 0.2, 0.4, 0.6, 0.8, 1.0]), 0.25, 0.9)
    0.4
    >>> human_cut(np.array([0, 1]), np.array([0.1, 0.95]), 0.05, 0.5)
    0.5
    """
    ai_scores = p_ai[labels == 1]
    return min(float(np.quantile(ai_scores, target_fnr)), ai_cut) if len(ai_scores) else ai_cut


def rate_with_bound(errors: int, texts: int) -> dict:
    """An error rate measured on `texts`, with the upper end of its exact (Clopper-Pearson) 95% interval.

    >>> rate_with_bound(1, 100)
    {'texts': 100, 'rate': 0.01, 'upper_95': 0.0545}
    """
    upper = binomtest(errors, texts).proportion_ci(0.95, method="exact").high if texts else 1.0
    return {"texts": texts, "rate": round(errors / texts, 4) if texts else None, "upper_95": round(float(upper), 4)}


def promised_rates(labels: np.ndarray, p_ai: np.ndarray, ai_cut: float, human: float) -> dict:
    """What the two cuts do on these texts: human texts labelled AI (`ai_fpr`), AI texts labelled HUMAN
    (`human_fnr`), each with its sample size and upper bound, and the share of each label."""
    called_ai, called_human = is_ai(p_ai, ai_cut), p_ai <= human
    humans, ais = labels == 0, labels == 1
    return {
        "ai_fpr": rate_with_bound(int(np.sum(called_ai & humans)), int(np.sum(humans))),
        "human_fnr": rate_with_bound(int(np.sum(called_human & ais)), int(np.sum(ais))),
        "share": {AI: round(float(np.mean(called_ai)), 4), HUMAN: round(float(np.mean(called_human & ~called_ai)), 4),
                  UNSURE: round(float(np.mean(~called_ai & ~called_human)), 4)},
    }


def threshold_from_val(policy: str, labels: np.ndarray, p_ai: np.ndarray, target_fpr: float,
                       domains: Sequence[str | None] | None = None, languages: Sequence[str | None] | None = None,
                       per_language: bool = False, target_fnr: float | None = None, min_words: int = 0,
                       texts: Sequence[str] | None = None, train_texts: Sequence[str] | None = None,
                       unfamiliar_share: float = 0.0, out_of_fold: OutOfFold | None = None) -> Threshold:
    """The policy's AI cut on val (`evaluation.metrics.choose_threshold_by`) and, with `per_language`, the policy's
    cut on each language's val texts alone, for every language of val that holds AI texts and at least
    `min_human_texts(target_fpr)` human ones (the others fall back to the pooled cut).

    With `target_fnr`, three labels: a HUMAN cut under which about that share of val's AI texts falls (`human_cut`),
    per language where the language has its own AI cut; the languages of val's human texts; `min_words`; and the rates
    both cuts give on val, with their sample sizes and bounds; and with val's `texts`, `train_texts` and
    `unfamiliar_share` > 0, the familiarity check that flags about that share of val (`Familiarity.fit`).

    With `out_of_fold`, its texts join val's for every cut and rate (the familiarity check stays on val: a train text
    holds no word the train split lacks).

    >>> labels = np.array([0] * 100 + [1] * 10 + [0] * 100 + [1] * 10)
    >>> p_ai = np.concatenate([np.linspace(0.0, 0.8, 100), [0.9] * 10, np.linspace(0.0, 0.1, 100), [0.3] * 10])
    >>> cuts = threshold_from_val("target_fpr_pooled", labels, p_ai, 0.01, languages=["en"] * 110 + ["ko"] * 110,
    ...                           per_language=True)
    >>> round(cuts.pooled, 3), {lang: round(cut, 3) for lang, cut in cuts.by_language.items()}
    (0.784, {'en': 0.792, 'ko': 0.099})
    >>> three = threshold_from_val("target_fpr_pooled", labels, p_ai, 0.01, languages=["en"] * 110 + ["ko"] * 110,
    ...                            per_language=True, target_fnr=0.05)
    >>> round(three.human, 3), three.languages, three.rates["pooled"]["ai_fpr"]
    (0.3, ('en', 'ko'), {'texts': 200, 'rate': 0.01, 'upper_95': 0.0357})
    """
    labels, p_ai = np.asarray(labels), np.asarray(p_ai)
    val_languages = [str(lang) for lang in languages] if languages is not None else [None] * len(labels)
    domain_list = list(domains) if domains is not None else [None] * len(labels)
    labels, p_ai, domain_list, languages = pooled_with(out_of_fold, labels, p_ai, domain_list, languages)
    pooled = choose_threshold_by(policy, labels, p_ai, target_fpr, domain_list)
    language_of = np.array([str(lang) for lang in languages]) if languages is not None else None
    by_language = {}
    if per_language and language_of is not None and len(set(language_of.tolist())) > 1:
        for lang in sorted(set(language_of.tolist())):
            mine = language_of == lang
            if labels[mine].any() and np.sum(labels[mine] == 0) >= min_human_texts(target_fpr):
                by_language[lang] = choose_threshold_by(
                    policy, labels[mine], p_ai[mine], target_fpr,
                    [domain for domain, keep in zip(domain_list, mine, strict=True) if keep])
    if target_fnr is None:
        return Threshold(pooled, by_language)
    human = human_cut(labels, p_ai, target_fnr, pooled)
    human_by_language = {lang: human_cut(labels[language_of == lang], p_ai[language_of == lang], target_fnr, cut)
                         for lang, cut in by_language.items()}
    rates = {"pooled": promised_rates(labels, p_ai, pooled, human)}
    for lang, cut in by_language.items():
        mine = language_of == lang
        rates[lang] = promised_rates(labels[mine], p_ai[mine], cut, human_by_language[lang])
    seen = tuple(sorted(set(language_of[labels == 0].tolist()))) if language_of is not None else ()
    familiarity = None
    if unfamiliar_share > 0 and texts is not None and train_texts is not None:
        familiarity = Familiarity.fit(train_texts, texts, val_languages, unfamiliar_share)
    return Threshold(pooled, by_language, human, human_by_language, seen, min_words, rates, familiarity)


def label_shares(threshold: Threshold, labels: Sequence[int], p_ai: Sequence[float], texts: Sequence[str],
                 languages: Sequence[str | None] | None = None) -> dict[str, float | None]:
    """The share of each label among the human texts and among the AI texts: `human_labelled_ai` is the AI label's
    false-positive rate, `ai_labelled_human` the HUMAN label's miss rate (eval, the benchmarks); `unfamiliar`: the
    share of all texts labelled UNSURE as unlike the training data.

    >>> shares = label_shares(Threshold(0.8, human=0.2), [0, 0, 1, 1], [0.1, 0.5, 0.5, 0.9], ["a b c d e"] * 4)
    >>> shares["human_labelled_human"], shares["human_labelled_unsure"], shares["ai_labelled_ai"], shares["unfamiliar"]
    (0.5, 0.5, 0.5, 0.0)
    """
    labelled = threshold.labels(p_ai, texts, languages)
    given = [label for label, _ in labelled]
    shares: dict[str, float | None] = {"unfamiliar": round(sum(reason == UNFAMILIAR for _, reason in labelled)
                                                           / len(labelled), 4) if labelled else None}
    for truth, value in (("human", 0), ("ai", 1)):
        mine = [label for label, actual in zip(given, labels, strict=True) if actual == value]
        for label in (AI, HUMAN, UNSURE):
            shares[f"{truth}_labelled_{label.lower()}"] = round(mine.count(label) / len(mine), 4) if mine else None
    return shares


def cut_fields(threshold: Threshold) -> dict:
    """The cuts alone (no rates, no lists), for a metrics file that holds one row per variant."""
    return {key: value for key, value in threshold.rounded().items()
            if key in ("threshold", "thresholds_by_language", "human_threshold", "human_thresholds_by_language")}
