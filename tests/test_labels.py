"""Three labels (AI, HUMAN, UNSURE) with the rates their cuts promise: decision/threshold.py."""

import string

import numpy as np
import pytest
from scipy.stats import beta

from tinydetect.decision.familiarity import Familiarity
from tinydetect.decision.threshold import (
    BETWEEN_CUTS,
    TOO_SHORT,
    UNFAMILIAR,
    UNSEEN_LANGUAGE,
    UNSEEN_SCRIPT,
    OutOfFold,
    Threshold,
    label_shares,
    threshold_from_val,
)

TEXT = "a text long enough to judge"


def scores(rng, humans: int, ais: int) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping synthetic scores: human P(AI) ~ Beta(2, 5), AI ~ Beta(5, 2)."""
    labels = np.r_[np.zeros(humans, dtype=int), np.ones(ais, dtype=int)]
    return labels, np.r_[rng.beta(2, 5, humans), rng.beta(5, 2, ais)]


def test_the_cuts_keep_their_promised_rates_on_fresh_texts_of_the_same_kind():
    rng = np.random.default_rng(0)
    labels, p_ai = scores(rng, 2000, 2000)
    cuts = threshold_from_val("target_fpr_pooled", labels, p_ai, 0.01, target_fnr=0.05)
    assert cuts.human < cuts.pooled  # overlapping scores leave room for UNSURE
    promised = cuts.rates["pooled"]
    assert promised["ai_fpr"]["texts"] == 2000 and promised["ai_fpr"]["upper_95"] < 0.02
    fresh_labels, fresh_p = scores(rng, 20000, 20000)
    shares = label_shares(cuts, fresh_labels, fresh_p, [TEXT] * len(fresh_p))
    assert shares["human_labelled_ai"] <= 0.015 and shares["ai_labelled_human"] <= 0.06
    assert shares["human_labelled_unsure"] > 0 and shares["ai_labelled_unsure"] > 0
    assert sum(shares[f"human_labelled_{label}"] for label in ("ai", "human", "unsure")) == pytest.approx(1, abs=1e-3)


def test_with_few_val_texts_the_bound_says_how_little_the_cut_promises():
    rng = np.random.default_rng(1)
    labels, p_ai = scores(rng, 90, 300)  # L2R's val: about 90 human texts
    promised = threshold_from_val("target_fpr_pooled", labels, p_ai, 0.01, target_fnr=0.05).rates["pooled"]["ai_fpr"]
    assert promised["texts"] == 90 and promised["upper_95"] > 0.03  # a 1% cut on 90 texts cannot promise 1%


def test_out_of_fold_train_scores_put_the_cut_near_the_quantile_it_means_and_lift_the_bound():
    rng = np.random.default_rng(2)
    val_labels, val_p = scores(rng, 90, 300)
    train_labels, train_p = scores(rng, 900, 3000)
    languages = ["en"] * len(val_labels)
    out_of_fold = OutOfFold(train_labels, train_p, ["blog"] * len(train_p), ["en"] * len(train_p))
    texts = ["some words of the val split here"] * len(val_labels)  # the familiarity check: val's texts alone
    alone, pooled = (threshold_from_val("target_fpr_pooled", val_labels, val_p, 0.01, languages=languages,
                                        target_fnr=0.05, texts=texts, train_texts=texts, unfamiliar_share=0.05,
                                        out_of_fold=extra) for extra in (None, out_of_fold))
    true_cut = beta(2, 5).ppf(0.99)
    assert abs(pooled.pooled - true_cut) < abs(alone.pooled - true_cut) and abs(pooled.pooled - true_cut) < 0.03
    assert pooled.rates["pooled"]["ai_fpr"]["texts"] == 990 and pooled.rates["pooled"]["ai_fpr"]["upper_95"] < 0.02
    assert pooled.rates["pooled"]["human_fnr"]["texts"] == 3300
    assert pooled.familiarity is not None and pooled.languages == ("en",)


def test_what_the_cuts_cannot_judge_is_unsure_with_its_reason():
    cuts = Threshold(0.8, {"ko": 0.6}, human=0.3, human_by_language={"ko": 0.2}, languages=("en", "ko"), min_words=5)
    assert cuts.label(0.99, "Привет, как у тебя сегодня дела?") == ("UNSURE", UNSEEN_SCRIPT)
    assert cuts.label(0.99, "これは日本語で書かれた文章です") == ("UNSURE", UNSEEN_SCRIPT)
    assert cuts.label(0.99, "Two words") == ("UNSURE", TOO_SHORT)
    assert cuts.label(0.5, TEXT) == ("UNSURE", BETWEEN_CUTS)
    assert cuts.label(0.7, "오늘 아침에는 비가 많이 와서 우산을 챙겨 나갔다.") == ("AI", None)  # Korean's own cut
    assert cuts.label(0.25, "오늘 아침에는 비가 많이 와서 우산을 챙겨 나갔다.") == ("UNSURE", BETWEEN_CUTS)
    english_only = Threshold(0.8, human=0.3, languages=("en",), min_words=5)
    assert english_only.label(0.1, "오늘 아침에는 비가 많이 와서 우산을 챙겨 나갔다.") == ("UNSURE", f"{UNSEEN_LANGUAGE}: ko")


def test_three_labels_round_trip_through_detector_json_and_old_folders_keep_two():
    cuts = threshold_from_val("target_fpr_pooled", *scores(np.random.default_rng(2), 200, 200), 0.01,
                              languages=["en"] * 400, target_fnr=0.05, min_words=5)
    assert Threshold.from_json(cuts.to_json()) == cuts
    old_folder = Threshold.from_json({"threshold": 0.5})
    assert old_folder.human is None and old_folder.label(0.4, "x") == ("HUMAN", None)
    assert old_folder.label(0.6, "Это") == ("AI", None)


def zipf_texts(rng, vocabulary: list[str], count: int, length: int = 40) -> list[str]:
    """Texts of `length` words drawn from `vocabulary` with Zipf's law: rare words make in-domain texts differ too."""
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)
    return [" ".join(rng.choice(vocabulary, size=length, p=weights / weights.sum())) for _ in range(count)]


def test_a_text_unlike_the_train_split_is_unsure_and_the_check_flags_about_its_share_of_in_domain_texts():
    rng = np.random.default_rng(3)
    made_up = lambda n: ["".join(rng.choice(list(string.ascii_lowercase), size=6)) for _ in range(n)]  # noqa: E731
    domain, other_domain = made_up(3000), made_up(3000)
    train, val, fresh = (zipf_texts(rng, domain, count) for count in (400, 400, 2000))
    familiarity = Familiarity.fit(train, val, ["en"] * len(val), flagged_share=0.05)
    assert 0.02 <= familiarity.val_share <= 0.05
    flagged = np.mean([familiarity.is_unfamiliar(text, "en") for text in fresh])
    assert 0.02 <= flagged <= 0.09, flagged  # new texts of the training domain: about the promised share
    strangers = zipf_texts(rng, other_domain, 50)
    assert all(familiarity.is_unfamiliar(text, "en") for text in strangers)
    cuts = Threshold(0.8, human=0.3, languages=("en",), min_words=5, familiarity=familiarity)
    assert cuts.label(0.99, strangers[0]) == ("UNSURE", UNFAMILIAR)
    assert cuts.label(0.99, "Two words") == ("UNSURE", TOO_SHORT)  # the cheaper reason first
    # through detector.json: the same bitmap, the same cuts, the same labels
    again = Threshold.from_json(cuts.to_json())
    assert (again.familiarity.seen == familiarity.seen).all() and again.familiarity.cut == familiarity.cut
    texts = fresh[:200] + strangers
    assert again.labels([0.99] * len(texts), texts) == cuts.labels([0.99] * len(texts), texts)
    assert "seen_words" not in cuts.rounded()["familiarity"]  # metrics files get the cuts, not the bitmap


def test_the_familiarity_check_is_fitted_only_with_three_labels_and_a_share_to_flag():
    labels, p_ai = scores(np.random.default_rng(4), 40, 40)
    texts = ["some words of the val split here"] * 80
    three = threshold_from_val("target_fpr_pooled", labels, p_ai, 0.01, target_fnr=0.05, texts=texts,
                               train_texts=texts, unfamiliar_share=0.05)
    off = threshold_from_val("target_fpr_pooled", labels, p_ai, 0.01, target_fnr=0.05, texts=texts, train_texts=texts,
                             unfamiliar_share=0.0)
    two = threshold_from_val("target_fpr_pooled", labels, p_ai, 0.01, texts=texts, train_texts=texts,
                             unfamiliar_share=0.05)
    assert three.familiarity is not None and off.familiarity is None and two.familiarity is None
    assert "familiarity" in three.to_json() and "familiarity" not in off.to_json()
    with pytest.raises(ValueError, match="fnv1a32"):
        Familiarity.from_json(three.familiarity.to_json() | {"hash": "fnv1a32-16"})


def test_the_fused_p_ai_is_calibrated_on_a_synthetic_score_set():
    """P(AI) is the fusion's logistic regression on val (Platt scaling of the two parts' margins, folded into the
    graph): on fresh texts of the same kind, P(AI) = 0.8 means about 80% AI. Scores drawn from a known logistic
    model, 2,000 to fit, 20,000 to check."""
    from tinydetect.core.config import ModelConfig
    from tinydetect.evaluation.slices import calibration
    from tinydetect.modeling.lexical import fuse
    from tinydetect.modeling.model import build_model

    rng = np.random.default_rng(5)

    def draw(n):
        encoder, branch = rng.normal(0, 1.5, n), rng.normal(0, 2.0, n)
        truth = 1 / (1 + np.exp(-(1.2 * encoder + 0.8 * branch - 0.5)))
        return encoder, branch, (rng.random(n) < truth).astype(int)

    model = build_model(ModelConfig(num_hidden_layers=1, hidden_size=8, num_attention_heads=2, intermediate_size=8,
                                    max_length=8, lexical_buckets=4), vocab_size=10, seed=0)
    weights = fuse(model, *draw(2000), seed=0)
    encoder, branch, labels = draw(20000)
    p_ai = 1 / (1 + np.exp(-(weights["encoder_weight"] * encoder + weights["branch_weight"] * branch
                             + weights["offset"])))
    _, ece = calibration(labels, p_ai)
    assert ece < 0.02, ece
    _, uncalibrated = calibration(labels, 1 / (1 + np.exp(-3 * (1.2 * encoder + 0.8 * branch - 0.5))))
    assert uncalibrated > 0.05  # the check can fail: an overconfident score is caught
