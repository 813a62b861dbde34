import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from tinydetect.core.records import parse_record
from tinydetect.evaluation.model_card import render, threshold_sentence
from tinydetect.evaluation.slices import calibration, generator, slice_quality


def records():
    rows = [
        {"id": "h1", "text": "a", "label": "HUMAN", "lang": "en", "domain": "blog"},
        {"id": "h2", "text": "b", "label": "HUMAN", "lang": "ko", "domain": "review"},
        {"id": "a1", "text": "c", "label": "AI", "lang": "en", "domain": "blog", "model": "gpt-4o"},
        {"id": "a2", "text": "d", "label": "AI", "lang": "ko", "domain": "review",
         "provenance": {"backend": "gemini", "model": "gemini-2.5-flash"}},
    ]
    return [parse_record(row, default_id=row["id"]) for row in rows]


def test_generator_comes_from_the_data_or_the_provenance():
    assert [generator(r) for r in records()] == ["human", "human", "gpt-4o", "gemini-2.5-flash"]


def test_slices_have_counts_and_per_generator_recall():
    p_ai = np.array([0.1, 0.7, 0.9, 0.4])
    slices = slice_quality(records(), p_ai, threshold=0.5)
    assert slices["lang"]["en"] == {"count": 2, "accuracy": 1.0, "f1": 1.0, "roc_auc": 1.0}
    assert slices["lang"]["ko"]["accuracy"] == 0.0 and slices["domain"]["review"]["count"] == 2
    assert slices["generator"]["gpt-4o"]["recall"] == 1.0 and slices["generator"]["gpt-4o"]["count"] == 1
    assert slices["generator"]["gemini-2.5-flash"]["recall"] == 0.0
    assert slices["generator"]["gemini-2.5-flash"]["roc_auc"] == 0.5  # ranked between the two human texts


def test_perfectly_calibrated_scores_have_zero_ece():
    labels = np.array([0] * 8 + [1] * 2 + [1] * 8 + [0] * 2)
    p_ai = np.array([0.2] * 10 + [0.8] * 10)
    table, ece = calibration(labels, p_ai)
    assert ece < 1e-9 and table["count"].tolist() == [10, 10]


def test_model_card_states_data_model_metrics_and_limits():
    recs = records()
    metric = {"roc_auc": 0.9, "f1": 0.8, "accuracy": 0.85, "tpr_at_5pct_fpr": 0.5, "threshold": 0.4}
    metrics = {"detector": metric | {"parameters": 1234, "size_mb": 5.0, "ece": 0.05}, "baseline": metric}
    config = {"num_hidden_layers": 4, "hidden_size": 312, "num_attention_heads": 12, "intermediate_size": 1200,
              "vocab_size": 8000, "max_position_embeddings": 128}
    training = {"pretrain": {"epochs": 3, "texts": 1200, "train_split_texts": 1000, "unlabelled_texts": 200,
                             "val_perplexity": 41.5},
                "train": {"distilled_from": "tfidf", "fusion": {"encoder_weight": 0.8, "branch_weight": 1.25, "offset": -0.5}},
                "policy": {"threshold_policy": "target_fpr_every_domain", "target_fpr": 0.01}}
    card = render({"train": recs, "val": recs[:2], "test": recs}, config, metrics,
                  slice_quality(recs, np.array([0.1, 0.7, 0.9, 0.4]), 0.5), training)
    for expected in ("| train | 4 | AI 2, HUMAN 2 | en 2, ko 2 |", "4 layers, hidden 312, 12 heads", "1,234 parameters",
                     "| detector | 5.000 | 0.900 |", "| generator | gpt-4o | 1 |",
                     "Generators seen in training: gemini-2.5-flash, gpt-4o", "threshold on P(AI)",
                     "pre-trained from scratch by masked-language modelling for 3 epochs on 1,200 unlabelled texts",
                     "soft labels of a `tfidf` teacher", "logit = 0.800 x encoder + 1.250 x branch -0.500", "about 1 in 100 human texts gets it", "quantiles of val's human scores per domain",
                     "On other kinds of text"):
        assert expected in card, expected


@pytest.mark.parametrize("p_ai", [
    np.array([0.05, 0.1, 0.95, 0.95]),  # 0.1 on a bin edge: raised ValueError before
    np.array([0.0, 0.3, 0.7, 1.0]),
    np.random.default_rng(0).random(500),
])
def test_calibration_curve_is_sklearns_and_counts_match_it(p_ai):
    labels = (np.arange(len(p_ai)) % 2).astype(int)
    table, ece = calibration(labels, p_ai)
    fraction_ai, mean_p = calibration_curve(labels, p_ai, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(table["fraction_ai"], fraction_ai.round(6))
    np.testing.assert_allclose(table["mean_p_ai"], mean_p.round(6))
    assert table["count"].sum() == len(p_ai)
    assert 0.0 <= ece <= 1.0


@pytest.mark.parametrize(("policy", "says"), [
    ("target_fpr_pooled", "all domains together"), ("target_fpr_every_domain", "quantiles of val's human scores per domain"),
    ("target_fpr_tolerant", "binomial test"), ("f1", "best F1"),
])
def test_model_card_says_how_each_threshold_policy_chose_the_cut(policy, says):
    sentence = threshold_sentence(0.9, {"threshold_policy": policy, "target_fpr": 0.01})
    assert says in sentence and "0.9000" in sentence
    assert ("about 1 in 100 human texts" in sentence) == (policy != "f1")


def test_model_card_says_when_the_cuts_also_rest_on_out_of_fold_train_scores():
    folded = threshold_sentence(0.9, {"threshold_policy": "target_fpr_every_domain", "target_fpr": 0.01, "cut_folds": 5})
    plain = threshold_sentence(0.9, {"threshold_policy": "target_fpr_every_domain", "target_fpr": 0.01, "cut_folds": 0})
    assert "one of 5 detectors trained without it" in folded and "train split" not in plain
