import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from transformers import BertForSequenceClassification

from tinydetect.core.config import ModelConfig, TokenizerConfig, TrainConfig
from tinydetect.core.errors import UserError
from tinydetect.core.records import parse_record
from tinydetect.modeling.model import Detector, build_model, count_parameters
from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece

from .conftest import make_human_rows

TINY_MODEL = ModelConfig(lexical_buckets=0, num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64, max_length=32)


def separable_records(count: int, offset: int) -> list:
    """Human texts, and AI texts that all end in a marker word: learnable in a few epochs."""
    rows = make_human_rows(count + offset)[offset:]
    records = [parse_record(row, default_id="") for row in rows]
    records += [
        parse_record({"id": f"{row['id']}~ai", "text": "zqx " + row["text"], "label": "AI"}, default_id="")
        for row in rows
    ]
    return records


def separable_task():
    """The separable signal's data and recipe (`scripts/train_separable.py` trains it under torchrun too)."""
    from tinydetect.modeling.training import TrainingData

    train_records, val_records = separable_records(40, 0), separable_records(12, 40)
    texts = [r.text for r in train_records]
    tokenizer = DetectorTokenizer(train_sentencepiece(texts, TokenizerConfig(vocab_size=600), seed=0), max_length=32)
    config = TrainConfig(learning_rate=3e-3, batch_size=8, epochs=6, early_stopping_patience=6, label_smoothing=0.0)
    return TrainingData(tokenizer, train_records, val_records), config


@pytest.fixture(scope="module")
def trained():
    from tinydetect.modeling.training import train

    data, config = separable_task()
    return train(TINY_MODEL, config, data, seed=0), data.val


def test_tinybert4_shape_by_default():
    model = build_model(ModelConfig(lexical_buckets=0), vocab_size=8000, seed=0)
    assert model.config.num_hidden_layers == 4 and model.config.hidden_size == 312
    assert model.config.intermediate_size == 1200 and model.config.num_attention_heads == 12
    # TinyBERT-4 is 14.5M with a 30k vocabulary; with 8k: 2.5M embeddings + 4.6M encoder + pooler
    assert 7.1e6 < count_parameters(model) < 7.3e6


def test_training_learns_a_separable_signal(trained):
    result, val_records = trained
    p_ai = result.detector.probability_ai([r.text for r in val_records])
    assert roc_auc_score([r.label_int for r in val_records], p_ai) > 0.9
    assert 0.0 <= result.detector.threshold.pooled <= 1.0
    assert result.best_val_roc_auc > 0.9


def test_saved_detector_loads_with_from_pretrained_and_scores_the_same(trained, tmp_path):
    result, val_records = trained
    result.detector.save(tmp_path)
    assert isinstance(BertForSequenceClassification.from_pretrained(tmp_path), BertForSequenceClassification)
    loaded = Detector.load(tmp_path)
    texts = [r.text for r in val_records]
    np.testing.assert_allclose(loaded.probability_ai(texts), result.detector.probability_ai(texts), atol=1e-6)
    assert json.loads((tmp_path / "detector.json").read_text())["threshold"] == result.detector.threshold.pooled
    assert json.loads((tmp_path / "config.json").read_text())["id2label"] == {"0": "HUMAN", "1": "AI"}


def test_missing_detector_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="not a detector folder"):
        Detector.load(tmp_path)


def test_an_encoder_that_learned_nothing_fails_the_stage_with_its_curve():
    """Labels no text can predict (val: one text under both labels, so every score ties): the guard must fire."""
    from tinydetect.modeling.training import EncoderDidNotLearn, TrainingData, train

    data, _ = separable_task()
    same_text = data.val[0].text
    val = [parse_record({"id": f"v{i}", "text": same_text, "label": "AI" if i % 2 else "HUMAN"}, default_id="")
           for i in range(10)]
    config = TrainConfig(learning_rate=3e-3, batch_size=8, epochs=1, min_encoder_val_roc_auc=0.6)
    with pytest.raises(EncoderDidNotLearn, match=r"best val ROC-AUC alone is 0\.500.*by epoch: 0\.500;"):
        train(TINY_MODEL, config, TrainingData(data.tokenizer, data.train, val), seed=0)


@pytest.mark.parametrize("best, guard, fails", [(0.55, "fail", True), (0.55, "warn", False), (0.65, "fail", False),
                                                (float("nan"), "fail", False)])
def test_encoder_guard_fails_warns_or_passes(best, guard, fails, capsys):
    from tinydetect.modeling.training import EncoderDidNotLearn, check_encoder_learned

    config = TrainConfig(min_encoder_val_roc_auc=0.6, encoder_guard=guard)
    history = [{"epoch": 1.0, "train_loss": 0.51, "val_roc_auc": best}]
    if fails:
        with pytest.raises(EncoderDidNotLearn, match=r"train loss: 0\.510"):
            check_encoder_learned(best, history, config)
    else:
        check_encoder_learned(best, history, config)
        assert ("did not learn" in capsys.readouterr().err) == (guard == "warn" and best < 0.6)


def test_an_encoder_whose_loss_stays_at_the_prior_fails_whatever_its_first_epoch_showed(capsys):
    """The L2R collapse of a 6-epoch run (seed 1): val ROC-AUC above the floor, train loss at the prior's entropy."""
    from tinydetect.modeling.training import EncoderDidNotLearn, check_encoder_learned, prior_entropy

    history = [{"epoch": float(epoch), "train_loss": loss, "val_roc_auc": auc}
               for epoch, (loss, auc) in enumerate(zip((0.539, 0.487, 0.509, 0.513, 0.509),
                                                       (0.767, 0.709, 0.809, 0.791, 0.775), strict=True), 1)]
    prior = prior_entropy(np.array([1] * 80 + [0] * 20))
    with pytest.raises(EncoderDidNotLearn, match=r"ended at train loss 0\.509, not .* below 0\.500, the loss of "
                                                 r"answering the class prior"):
        check_encoder_learned(0.809, history, TrainConfig(), prior)
    check_encoder_learned(0.809, history, TrainConfig(encoder_guard="warn"), prior)
    assert "below 0.500, the loss of answering the class prior" in capsys.readouterr().err
    learned = [{**row, "train_loss": loss} for row, loss in zip(history, (0.51, 0.41, 0.25, 0.18, 0.11), strict=True)]
    check_encoder_learned(0.852, learned, TrainConfig(), prior)  # seed 0 of the same run: it learned
    check_encoder_learned(0.809, history, TrainConfig(), None)  # no prior given: nothing to compare with


def test_the_loss_of_a_constant_answer_counts_the_teachers_soft_labels_when_distilling():
    """Distilling, the train loss mixes the KL to the teacher with the cross-entropy, and a constant answer pays far
    less of the mix than the prior's entropy (this teacher's answers sit near one value): compared with the entropy,
    a collapsed distilled encoder would pass the guard. The floor is the mixed loss's own."""
    from tinydetect.modeling.distillation import distillation_loss
    from tinydetect.modeling.training import loss_at_prior

    labels = np.array([1] * 80 + [0] * 20)
    teacher = np.where(labels == 1, 0.7, 0.4).astype(np.float32)  # a teacher that ranks every text right
    config = TrainConfig(distill_alpha=0.5, distill_temperature=2.0)
    floor = loss_at_prior(labels, config, teacher)
    assert floor < loss_at_prior(labels, config) - 0.1
    for logit_ai in np.linspace(-3, 5, 33):  # no constant answer does better than the floor
        logits = torch.tensor([[0.0, float(logit_ai)]]).repeat(len(labels), 1)
        loss = distillation_loss(logits, torch.from_numpy(labels), torch.from_numpy(teacher), 0.5, 2.0, 0.0)
        assert float(loss) >= floor - 1e-5


def test_training_logs_the_encoders_curve_per_epoch(trained):
    result, _ = trained
    assert [row["epoch"] for row in result.history] == [float(epoch) for epoch in range(1, len(result.history) + 1)]
    assert all({"train_loss", "val_loss", "val_roc_auc"} <= set(row) for row in result.history)
    assert max(row["val_roc_auc"] for row in result.history) == pytest.approx(result.best_val_roc_auc, abs=1e-6)


def test_random_windows_show_the_encoder_another_part_of_a_long_text_and_leave_short_ones_alone():
    from tinydetect.modeling.tokenizer import CLS_ID, PAD_ID
    from tinydetect.modeling.training import EncodedTexts, RandomWindows

    long_text = " ".join(f"w{index}" for index in range(200))
    records = [parse_record({"id": "long", "text": long_text, "label": "AI"}, default_id=""),
               parse_record({"id": "short", "text": "w1 w2 w3", "label": "HUMAN"}, default_id="")]
    tokenizer = DetectorTokenizer(train_sentencepiece([long_text] * 5, TokenizerConfig(vocab_size=300), seed=0),
                                  max_length=96)
    plain = EncodedTexts(records, tokenizer)
    windowed = EncodedTexts(records, tokenizer, windows=RandomWindows(share=1.0, width=16, seed=0))
    start_ids, start_mask = plain[0]["input_ids"], plain[0]["attention_mask"]
    starts = set()
    for _ in range(20):
        item = windowed[0]
        ids, mask = item["input_ids"], item["attention_mask"]
        assert ids.shape == start_ids.shape and int(ids[0]) == CLS_ID and int(item["labels"]) == 1
        dropped = int(start_mask.sum() - mask.sum())
        assert 1 <= dropped <= int(start_mask.sum()) - 2 - 15  # a full window of pieces is left
        assert ids[1:int(mask.sum())].tolist() == start_ids[1 + dropped:int(start_mask.sum())].tolist()
        assert (ids[int(mask.sum()):] == PAD_ID).all() and not mask[int(mask.sum()):].any()
        starts.add(dropped)
    assert len(starts) > 5  # a new window each time the text is drawn
    for _ in range(5):
        assert windowed[1]["input_ids"].tolist() == plain[1]["input_ids"].tolist()
    unwindowed = EncodedTexts(records, tokenizer, windows=RandomWindows(share=0.0, width=16, seed=0))
    assert unwindowed[0]["input_ids"].tolist() == start_ids.tolist()


def test_out_of_fold_scores_every_train_text_once_by_a_detector_trained_without_it():
    from tinydetect.modeling.out_of_fold import out_of_fold_p_ai

    data, config = separable_task()
    config = config.model_copy(update={"encoder_guard": "warn"})  # half the texts learn slower; the guard is tested above
    logged = []
    p_ai = out_of_fold_p_ai(TINY_MODEL, config, data, seed=0, folds=2, log=logged.append)
    labels = [record.label_int for record in data.train]
    assert p_ai.shape == (len(data.train),) and np.isfinite(p_ai).all()
    assert roc_auc_score(labels, p_ai) > 0.75  # the marker word, learnt from either half (scores in another order: 0.5)
    assert [line.split(":")[1].strip() for line in logged] == ["fold 1 of 2", "fold 2 of 2"]
    assert sum(int(line.split("scoring the ")[1].split()[0]) for line in logged) == len(data.train)


def test_out_of_fold_needs_two_texts_of_each_label_and_says_so():
    from tinydetect.modeling.out_of_fold import out_of_fold_p_ai
    from tinydetect.modeling.training import TrainingData

    data, config = separable_task()
    one_human = [record for record in data.train if record.label_int == 1] + [data.train[0]]
    with pytest.raises(UserError, match=r"eval\.cut_folds: 5 folds need at least 2 human and 2 AI texts"):
        out_of_fold_p_ai(TINY_MODEL, config, TrainingData(data.tokenizer, one_human, data.val), seed=0, folds=5)
