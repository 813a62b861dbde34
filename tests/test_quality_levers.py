"""The quality levers: the lexical branch, MLM pre-training, distillation, and the target-FPR threshold."""

import json

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from tinydetect.core.config import ModelConfig, PretrainConfig, TokenizerConfig
from tinydetect.core.records import parse_record
from tinydetect.decision.policies import choose_threshold_by, threshold_for_fpr
from tinydetect.decision.threshold import threshold_from_val
from tinydetect.export.traceable import ExportableDetector
from tinydetect.modeling.cross_fitting import cross_fit_folds
from tinydetect.modeling.distillation import cross_fitted_soft_labels, distillation_loss
from tinydetect.modeling.lexical import fit_regression, fuse
from tinydetect.modeling.model import DetectorModel, build_model, margin_parts
from tinydetect.modeling.pretraining import load_pretrained_encoder, pretrain, unlabelled_texts
from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece

from .conftest import make_human_rows, write_rows

LEXICAL = ModelConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64, max_length=32,
                      lexical_buckets=997)
TEXTS = [row["text"] for row in make_human_rows(30)]


@pytest.fixture(scope="module")
def tokenizer():
    return DetectorTokenizer(train_sentencepiece(TEXTS, TokenizerConfig(vocab_size=500), seed=0), max_length=32)


def _fitted_branch(model, tokenizer, texts, labels):
    encoded = tokenizer(texts)
    counts = model.lexical.counts(encoded["input_ids"], encoded["attention_mask"])
    model.lexical.fit(counts, np.array(labels), inverse_regularization=10.0, seed=0)
    return counts, {name: torch.from_numpy(array) for name, array in encoded.items()}


def test_lexical_branch_in_the_graph_equals_sklearns_tfidf_regression(tokenizer):
    model = build_model(LEXICAL, tokenizer.vocab_size, seed=0).double().eval()
    labels = [index % 2 for index in range(len(TEXTS))]
    counts, encoded = _fitted_branch(model, tokenizer, TEXTS, labels)
    tfidf, regression = fit_regression(counts, np.array(labels), 10.0, seed=0)
    expected = regression.decision_function(tfidf.transform(counts))
    with torch.no_grad():
        logits = model.lexical(encoded["input_ids"], encoded["attention_mask"])
    np.testing.assert_allclose(logits[:, 1].numpy(), expected, rtol=1e-9, atol=1e-9)
    assert torch.count_nonzero(logits[:, 0]) == 0


def test_lexical_branch_counts_repeated_ngrams_and_ignores_padding(tokenizer):
    model = build_model(LEXICAL, tokenizer.vocab_size, seed=0)
    ids, mask = np.array([[2, 10, 10, 10, 3, 0, 0]]), np.array([[1, 1, 1, 1, 1, 0, 0]])
    counts = model.lexical.counts(ids, mask).toarray()[0]
    pair = (10 * tokenizer.vocab_size + 10) % 997 + tokenizer.vocab_size
    assert counts[10] == 3 and counts[pair] == 2 and counts.sum() == 5 + 4 and counts[0] == 0


def test_bert_reads_the_first_tokens_and_the_branch_reads_all(tokenizer, tmp_path):
    long_reader = DetectorTokenizer(tokenizer.model_proto, max_length=96)
    model = build_model(LEXICAL, tokenizer.vocab_size, seed=0).eval()
    texts = [" ".join(TEXTS[index : index + 6]) for index in range(8)]  # longer than BERT's 32 tokens
    _, encoded = _fitted_branch(model, long_reader, texts, [index % 2 for index in range(8)])
    assert encoded["attention_mask"][:, 32:].sum() > 0
    with torch.no_grad():
        full = model(**encoded).logits
        bert_alone = model.bert(input_ids=encoded["input_ids"][:, :32], attention_mask=encoded["attention_mask"][:, :32])
        torch.testing.assert_close(full, model.classifier(bert_alone.pooler_output)
                                   + model.lexical(encoded["input_ids"], encoded["attention_mask"]))
        torch.testing.assert_close(ExportableDetector(model)(encoded["input_ids"], encoded["attention_mask"]), full)
    model.save_pretrained(tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(DetectorModel.from_pretrained(tmp_path).eval()(**encoded).logits, full)


def test_fusion_folds_the_val_regression_into_the_weights(tokenizer):
    model = build_model(LEXICAL, tokenizer.vocab_size, seed=0).double().eval()
    labels = np.array([index % 2 for index in range(len(TEXTS))])
    _, encoded = _fitted_branch(model, tokenizer, TEXTS, labels)
    encoder, branch = margin_parts(model, tokenizer, TEXTS)
    weights = fuse(model, encoder, branch, labels, seed=0)
    regression = LogisticRegression(C=1.0, random_state=0).fit(np.c_[encoder, branch], labels)
    with torch.no_grad():
        fused = model(**encoded).logits.diff(dim=-1)[:, 0].numpy()
    np.testing.assert_allclose(fused, regression.decision_function(np.c_[encoder, branch]), rtol=1e-6, atol=1e-6)
    assert weights["branch_weight"] == pytest.approx(regression.coef_[0][1])


def test_fusion_drops_a_part_whose_weight_comes_out_negative(tokenizer):
    model = build_model(LEXICAL, tokenizer.vocab_size, seed=0).double().eval()
    labels = np.array([index % 2 for index in range(len(TEXTS))])
    _fitted_branch(model, tokenizer, TEXTS, labels)
    rng = np.random.default_rng(0)
    branch = labels * 2.0 + rng.normal(size=len(labels))
    encoder = branch - labels * 1.5  # correlated with the branch, but alone a weaker detector: a joint fit weighs it < 0
    assert LogisticRegression(C=1.0).fit(np.c_[encoder, branch], labels).coef_[0][0] < 0
    weights = fuse(model, encoder, branch, labels, seed=0)
    alone = LogisticRegression(C=1.0, random_state=0).fit(branch[:, None], labels)
    assert weights == pytest.approx({"encoder_weight": 0.0, "branch_weight": alone.coef_[0][0],
                                     "offset": alone.intercept_[0]})
    with torch.no_grad():
        assert torch.count_nonzero(model.classifier.weight) == 0


def test_pretraining_lowers_the_masked_token_loss_and_its_encoder_loads(tokenizer, tmp_path):
    config = PretrainConfig(epochs=6, batch_size=8, learning_rate=3e-3)
    untrained = pretrain(LEXICAL, config.model_copy(update={"epochs": 0}), tokenizer, TEXTS * 4, TEXTS[:8], seed=0)
    trained = pretrain(LEXICAL, config, tokenizer, TEXTS * 4, TEXTS[:8], seed=0)
    assert untrained.eval_loss is None and trained.eval_loss < np.log(tokenizer.vocab_size)  # below a uniform guess
    trained.model.save_pretrained(tmp_path)
    detector = build_model(LEXICAL, tokenizer.vocab_size, seed=1)
    load_pretrained_encoder(detector, tmp_path)
    torch.testing.assert_close(detector.bert.encoder.layer[0].output.dense.weight,
                               trained.model.bert.encoder.layer[0].output.dense.weight)


def test_unlabelled_texts_read_paragraphs_and_jsonl(tmp_path):
    (tmp_path / "notes.txt").write_text("First paragraph,\nstill first.\n\nSecond one.\n", encoding="utf-8")
    write_rows(tmp_path / "more.jsonl", [{"text": "From JSON Lines.", "label": "HUMAN"}, {"text": "No label needed.", "label": "AI"}])
    texts, files = unlabelled_texts(tmp_path)
    assert sorted(texts) == ["First paragraph,\nstill first.", "From JSON Lines.", "No label needed.", "Second one."]
    assert len(files) == 2 and unlabelled_texts(tmp_path / "absent") == ([], [])


def test_cross_fitted_soft_labels_come_from_teachers_that_never_saw_the_text():
    rows = [{"id": f"t{i}", "text": f"{'Indeed, ' if i % 2 else 'lol '}text {i}", "label": "AI" if i % 2 else "HUMAN"}
            for i in range(40)]
    records = [parse_record(row, row["id"]) for row in rows]
    soft = cross_fitted_soft_labels(records, max_features=1000, seed=0)
    assert soft.shape == (40,) and not np.isnan(soft).any()
    labels = np.array([r.label_int for r in records])
    assert soft[labels == 1].mean() > soft[labels == 0].mean()  # the pattern generalises across folds


def test_distillation_loss_mixes_soft_and_hard_and_falls_back_to_hard():
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    labels = torch.tensor([1, 0])
    hard = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    torch.testing.assert_close(distillation_loss(logits, labels, None, 0.5, 2.0, 0.1), hard)
    torch.testing.assert_close(distillation_loss(logits, labels, torch.tensor([float("nan")] * 2), 0.5, 2.0, 0.1), hard)
    agreeing = distillation_loss(logits, labels, torch.softmax(logits, -1)[:, 1], 1.0, 1.0, 0.0)
    torch.testing.assert_close(agreeing, torch.tensor(0.0), atol=1e-6, rtol=0)  # no KL to a teacher that agrees
    assert distillation_loss(logits, labels, torch.tensor([0.01, 0.99]), 1.0, 2.0, 0.0) > 0.5


def test_balanced_class_weights_make_predicting_the_prior_cost_ln_2_on_an_80_20_split():
    from tinydetect.core.config import TrainConfig
    from tinydetect.modeling.training import class_weights, loss_at_prior

    labels = np.array([1] * 80 + [0] * 20)
    weights = class_weights(labels, "balanced")
    prior_logits = torch.log(torch.tensor([[0.2, 0.8]])).repeat(100, 1)  # the prior, for every text
    plain = distillation_loss(prior_logits, torch.from_numpy(labels), None, 0.0, 1.0, 0.0)
    weighted = distillation_loss(prior_logits, torch.from_numpy(labels), None, 0.0, 1.0, 0.0, weights)
    assert float(plain) == pytest.approx(loss_at_prior(labels, TrainConfig()), abs=1e-6)  # 0.50: the prior pays
    assert float(weighted) > loss_at_prior(labels, TrainConfig(class_weight="balanced")) == pytest.approx(np.log(2))  # now it does not
    half = distillation_loss(torch.zeros(100, 2), torch.from_numpy(labels), None, 0.0, 1.0, 0.0, weights)
    assert float(half) == pytest.approx(np.log(2), abs=1e-6)  # the best constant answer is 50/50
    assert class_weights(labels, "none") is None and class_weights(np.ones(5, dtype=int), "balanced") is None


@pytest.mark.parametrize("target", [0.01, 0.05, 0.2])
def test_target_fpr_threshold_labels_the_target_share_of_human_texts(target):
    rng = np.random.default_rng(0)
    labels = np.array([0] * 2000 + [1] * 300)
    p_ai = np.concatenate([rng.beta(2, 5, 2000), rng.beta(5, 2, 300)])
    threshold = threshold_for_fpr(labels, p_ai, target)
    assert np.mean(p_ai[labels == 0] > threshold) == pytest.approx(target, abs=0.5 / 2000 + 1e-9)
    unseen_humans = rng.beta(2, 5, 20000)  # humans it never saw: about the same rate
    assert np.mean(unseen_humans > threshold) == pytest.approx(target, rel=0.25)


def test_tolerant_threshold_sits_between_pooled_and_every_domain_and_lets_each_domain_keep_its_allowance():
    rng = np.random.default_rng(1)
    domains = np.array(["review"] * 300 + ["essay"] * 20 + ["mail"] * 40 + ["ai"] * 200)
    labels = (domains == "ai").astype(int)
    p_ai = np.concatenate([rng.beta(2, 8, 300), rng.beta(4, 4, 20), rng.beta(2, 5, 40), rng.beta(6, 2, 200)])
    pooled, every_domain, tolerant = (choose_threshold_by(policy, labels, p_ai, 0.01, list(domains))
                                      for policy in ("target_fpr_pooled", "target_fpr_every_domain", "target_fpr_tolerant"))
    assert pooled <= tolerant < every_domain
    for domain, allowed in (("review", 6), ("essay", 1), ("mail", 2)):  # binomial at 1%: P(X >= k) >= 5%
        assert np.sum(p_ai[(domains == domain)] > tolerant) <= allowed
    assert np.mean(p_ai[labels == 0] > tolerant) <= 0.01 + 1e-9


def test_a_language_scored_on_its_own_scale_gets_its_own_cut():
    """As measured on the bilingual benchmark: Korean AI essays near P(AI) 0.44, English human texts up to 0.98.
    One cut for both labels no Korean AI text; a cut per language catches them at the same human rate."""
    rng = np.random.default_rng(2)
    languages = np.array(["en"] * 600 + ["ko"] * 600)
    labels = np.array(([0] * 300 + [1] * 300) * 2)
    p_ai = np.concatenate([rng.uniform(0.0, 0.98, 300), rng.uniform(0.9, 1.0, 300),  # English human, AI
                           rng.uniform(0.0, 0.2, 300), rng.uniform(0.3, 0.6, 300)])  # Korean human, AI
    one = threshold_from_val("target_fpr_pooled", labels, p_ai, 0.01, languages=list(languages))
    each = threshold_from_val("target_fpr_pooled", labels, p_ai, 0.01, languages=list(languages), per_language=True)
    korean_ai = (languages == "ko") & (labels == 1)
    assert not one.by_language and np.mean(p_ai[korean_ai] > one.pooled) == 0.0
    cuts = each.per_text(list(languages))
    assert each.pooled == one.pooled and set(each.by_language) == {"en", "ko"}
    assert np.mean(p_ai[korean_ai] > cuts[korean_ai]) == 1.0
    for lang in ("en", "ko"):
        human = (languages == lang) & (labels == 0)
        assert np.mean(p_ai[human] > cuts[human]) <= 0.01


def test_a_language_gets_its_own_cut_only_with_ai_texts_and_enough_human_ones_in_val():
    """At a 1% target a language needs 100 human val texts (one expected false positive); fewer fall back to
    the pooled cut: on the demo, 31 English human texts set a cut of 0.13 and test FPR went from 0 to 7%."""
    rng = np.random.default_rng(3)
    languages = ["en"] * 130 + ["ja"] * 120 + ["de"] * 60
    labels = np.array([0] * 100 + [1] * 30 + [0] * 120 + [0] * 40 + [1] * 20)  # ja: no AI text; de: 40 human
    p_ai = np.concatenate([rng.uniform(0, 0.5, 100), rng.uniform(0.6, 1, 30), rng.uniform(0, 0.9, 120),
                           rng.uniform(0, 0.1, 40), rng.uniform(0.2, 0.3, 20)])
    cuts = threshold_from_val("target_fpr_pooled", labels, p_ai, 0.01, languages=languages, per_language=True)
    assert set(cuts.by_language) == {"en"} and cuts.by_language["en"] < 0.5 < cuts.pooled
    assert cuts.per_text(["ja", "de", "fr"]).tolist() == [cuts.pooled] * 3
    english = threshold_from_val("target_fpr_pooled", labels[:130], p_ai[:130], 0.01, languages=languages[:130],
                                 per_language=True)
    assert english.by_language == {} and english.to_json() == {"threshold": english.pooled}  # detector.json as before


def test_the_fitted_branch_sits_out_training_and_returns_scaled_by_the_fusion(tokenizer):
    """While the Trainer runs, BERT alone: the branch is neither optimised nor part of val ROC-AUC."""
    from transformers import TrainerCallback

    from tinydetect.core.config import TrainConfig
    from tinydetect.modeling.training import TrainingData, fit

    records = [parse_record({"id": f"r{i}", "text": text, "label": "AI" if i % 2 else "HUMAN"}, "") for i, text in
               enumerate(TEXTS)]
    model = build_model(LEXICAL, tokenizer.vocab_size, seed=0)
    _fitted_branch(model, tokenizer, TEXTS[:20], [record.label_int for record in records[:20]])
    fitted = model.lexical.weights.weight.detach().clone()
    seen = []

    class WatchTraining(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, optimizer=None, **kwargs):
            optimised = {id(parameter) for group in optimizer.param_groups for parameter in group["params"]}
            seen.append((model.lexical, any(id(parameter) in optimised for parameter in branch.parameters())))

    branch = model.lexical
    result = fit(model, TrainConfig(epochs=1, batch_size=4, encoder_guard="warn"),  # one epoch: plumbing only
                 TrainingData(tokenizer, records[:20], records[20:]),
                 seed=0, callbacks=[WatchTraining()])
    assert seen and all(lexical is None and not optimised for lexical, optimised in seen)
    assert model.lexical is branch
    torch.testing.assert_close(branch.weights.weight, fitted * result.fusion["branch_weight"])


def test_unknown_threshold_policy_names_the_known_ones():
    with pytest.raises(ValueError, match="target_fpr_pooled, target_fpr_every_domain"):
        choose_threshold_by("target_fpr", np.array([0, 1]), np.array([0.2, 0.8]), 0.01)


def test_the_teachers_soft_labels_reach_the_loss(tokenizer, tmp_path):
    """Before `remove_unused_columns=False`, the Trainer dropped the field and distillation silently did nothing."""
    from tinydetect.core.config import TrainConfig
    from tinydetect.modeling.distillation import TEACHER_FIELD, DistillationTrainer
    from tinydetect.modeling.training import EncodedTexts, training_arguments

    records = [parse_record({"id": f"r{i}", "text": text, "label": "AI" if i % 2 else "HUMAN"}, "") for i, text in
               enumerate(TEXTS[:8])]
    model = build_model(LEXICAL, tokenizer.vocab_size, seed=0)
    dataset = EncodedTexts(records, tokenizer, {record.id: 0.25 for record in records})
    trainer = DistillationTrainer(model=model, args=training_arguments(TrainConfig(batch_size=4), str(tmp_path), 0),
                                  train_dataset=dataset, eval_dataset=dataset, alpha=0.5, temperature=2.0,
                                  label_smoothing=0.0)
    batch = next(iter(trainer.get_train_dataloader()))
    assert batch[TEACHER_FIELD].tolist() == [0.25] * 4


def test_cross_fitting_folds_by_group_unless_a_label_sits_in_one_group():
    labels = np.array([0, 1] * 10)
    by_pair = [f"g{index // 2}" for index in range(20)]
    for kept, held in cross_fit_folds(labels, by_pair, seed=0):
        assert not set(np.array(by_pair)[kept]) & set(np.array(by_pair)[held])
    one_ai_group = ["ai" if label else f"h{index}" for index, label in enumerate(labels)]
    folds = list(cross_fit_folds(labels, one_ai_group, seed=0))
    assert len(folds) == 5 and all(set(labels[kept]) == {0, 1} for kept, _ in folds)
    assert sorted(np.concatenate([held for _, held in folds]).tolist()) == list(range(20))


def test_the_lexical_features_benchmark_scores_the_branch_and_the_baseline_on_a_split(labelled_records, tokenizer):
    """benchmarks.lexical_features broke once without a failing test (a changed LexicalBranch signature): its row
    functions run here on a tiny split where the reversed AI texts are easy to tell apart."""
    from benchmarks.lexical_features import WEIGHTINGS, baseline_row, token_rows

    splits = {"train": labelled_records[::2], "test": labelled_records[1::2]}
    weighting = next(iter(WEIGHTINGS.values()))
    assert token_rows(splits, tokenizer.model_proto, 30, weighting, 100.0) > 0.9
    assert baseline_row(splits, lambda text: text) > 0.9


def test_the_encoder_benchmark_compares_threshold_policies_on_a_seeds_kept_scores(tmp_path):
    """`cut_alternatives` rebuilds the shipped P(AI) from the kept part scores and the fusion, and picks each policy's
    cut on val: one confidently wrong human text among one domain's 11 sets the every-domain cut (that domain's 99th
    percentile) above every AI text, while the pooled and tolerant cuts (a domain of 11 may keep its top one above)
    catch them all."""
    from benchmarks.encoder import cut_alternatives, cut_spread, read_part_scores

    rows, rng = [], np.random.default_rng(0)
    for split in ("val", "test"):
        for domain in ("blogs", "mail"):
            outlier = (split, domain) == ("val", "blogs")
            humans = list(rng.uniform(-4.0, 0.0, 10 if outlier else 60)) + ([10.0] if outlier else [])
            rows += [{"split": split, "id": f"{split}-{domain}-h{index}", "label": 0, "domain": domain,
                      "lang": "en", "encoder": 0.0, "branch": float(score)} for index, score in enumerate(humans)]
            rows += [{"split": split, "id": f"{split}-{domain}-a{index}", "label": 1, "domain": domain,
                      "lang": "en", "encoder": 0.0, "branch": float(score)}
                     for index, score in enumerate(rng.uniform(0.5, 1.5, 40))]
    path = tmp_path / "scores-seed-0-recipe.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    fusion = {"encoder_weight": 0.0, "branch_weight": 2.0, "offset": -1.0}
    cuts = cut_alternatives(read_part_scores(path), fusion, 0.01)
    assert cuts["target_fpr_every_domain"]["test_tpr"] == 0.0
    assert cuts["target_fpr_tolerant"]["test_tpr"] == 1.0 and cuts["target_fpr_tolerant"]["test_fpr"] == 0.0
    assert cuts["f1"]["test_tpr"] == 1.0
    summary = cut_spread([{"seed": 0, "test_tpr_at_target_fpr_on_roc": 1.0, "cut_alternatives": cuts}])
    assert summary["target_fpr_tolerant"]["test_tpr"]["mean"] == cuts["target_fpr_tolerant"]["test_tpr"]
