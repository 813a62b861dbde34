"""AutoTinyBERT: the SuperNet's sub-networks, their extraction, the latency predictor and the searches.

Tiny shapes (hidden 16-32, head size 8) and random weights: what is tested is that a sub-network is the same
network wherever it runs, not how good it is (the pipeline test and `benchmarks/nas.py` train one).
"""

import random

import numpy as np
import pytest
import torch

from tinydetect.core.config import ModelConfig, SearchConfig, SupernetConfig
from tinydetect.core.errors import UserError
from tinydetect.modeling.model import DetectorModel, build_searched_model
from tinydetect.nas.latency import fit_predictor, held_out_split, measure
from tinydetect.nas.search import best_so_far, evolutionary_search, pareto_front, random_search
from tinydetect.nas.space import Architecture, SearchSpace, encode
from tinydetect.nas.supernet import SuperNet, extract, largest_config, load_supernet, save_supernet

SPACE_CONFIG = SupernetConfig(min_layers=1, max_layers=3, hidden_sizes=[16, 24, 32], head_size=8, ffn_min=16,
                              ffn_max=64, ffn_step=16)
SPACE = SearchSpace.from_config(SPACE_CONFIG)
MODEL = ModelConfig(lexical_buckets=0, num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64, max_length=24)
VOCAB = 300


@pytest.fixture(scope="module")
def supernet():
    torch.manual_seed(0)
    return SuperNet(SPACE, largest_config(SPACE, VOCAB, MODEL)).eval()


@pytest.fixture(scope="module")
def batch():
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(5, VOCAB, (3, MODEL.max_length), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0  # padding, as real texts have
    return ids, mask


def archs_to_check():
    draw = random.Random(3)
    return [SPACE.largest(), SPACE.smallest(), Architecture(2, 24, (3, 1), (64, 16))] + [SPACE.sample(draw) for _ in range(4)]


@pytest.mark.parametrize("arch", archs_to_check(), ids=Architecture.label)
def test_an_extracted_sub_network_gives_the_supernets_logits(supernet, batch, arch, tmp_path):
    with torch.no_grad():
        inside = supernet(*batch, arch=arch).logits
        extract(supernet, arch).save_pretrained(tmp_path)
        alone = DetectorModel.from_pretrained(tmp_path).eval()  # a plain save_pretrained folder
        outside = alone(input_ids=batch[0], attention_mask=batch[1]).logits
    torch.testing.assert_close(outside, inside, rtol=0, atol=1e-5)
    assert alone.config.num_hidden_layers == arch.layers and alone.config.hidden_size == arch.hidden
    assert [layer.attention.self.num_attention_heads for layer in alone.bert.encoder.layer] == list(arch.heads)
    assert [layer.intermediate.dense.out_features for layer in alone.bert.encoder.layer] == list(arch.ffn)


def test_sub_networks_differ_and_train_the_shared_weights_they_use(supernet, batch):
    small, large = SPACE.smallest(), SPACE.largest()
    with torch.no_grad():
        assert not torch.allclose(supernet(*batch, arch=small).logits, supernet(*batch, arch=large).logits)
    supernet.zero_grad()
    supernet(*batch, labels=torch.tensor([0, 1, 1]), arch=small).loss.backward()
    query = supernet.detector.bert.encoder.layer[0].attention.self.query.weight.grad
    head = small.heads[0] * SPACE.head_size
    assert query[:head, : small.hidden].abs().sum() > 0  # the slice the smallest runs with learns...
    assert query[head:].abs().sum() == 0 and query[:, small.hidden :].abs().sum() == 0  # ...and nothing else
    assert supernet.detector.bert.encoder.layer[1].attention.self.query.weight.grad is None  # its depth is 1
    supernet.zero_grad()


def test_masked_language_modelling_runs_on_any_sub_network(supernet, batch):
    labels = torch.full_like(batch[0], -100)
    labels[:, 3] = batch[0][:, 3]
    output = supernet(batch[0], batch[1], labels=labels, arch=SPACE.smallest(), task="mlm")
    assert output.logits.shape == (3, MODEL.max_length, VOCAB)
    assert output.loss > 0


def test_supernet_saves_and_loads_with_its_space(supernet, batch, tmp_path):
    save_supernet(supernet, tmp_path / "supernet")
    loaded = load_supernet(tmp_path / "supernet").eval()
    assert loaded.space == SPACE
    arch = archs_to_check()[2]
    with torch.no_grad():
        torch.testing.assert_close(loaded(*batch, arch=arch).logits, supernet(*batch, arch=arch).logits)
    with pytest.raises(UserError, match="dvc repro supernet"):
        load_supernet(tmp_path / "missing")


def test_searched_model_takes_the_extracted_weights_and_a_fresh_lexical_branch(supernet, tmp_path):
    arch = archs_to_check()[2]
    extract(supernet, arch).save_pretrained(tmp_path)
    model = build_searched_model(MODEL.model_copy(update={"lexical_buckets": 64}), tmp_path, seed=0)
    assert model.lexical is not None and model.config.hidden_size == arch.hidden
    extracted = DetectorModel.from_pretrained(tmp_path).state_dict()
    for name, tensor in model.state_dict().items():
        if not name.startswith("lexical."):
            assert torch.equal(tensor, extracted[name]), name


def test_moves_stay_in_the_space():
    draw = random.Random(0)
    for _ in range(300):
        first, second = SPACE.sample(draw), SPACE.sample(draw)
        assert SPACE.contains(first)
        assert SPACE.contains(SPACE.mutate(first, draw, probability=0.5))
        assert SPACE.contains(SPACE.crossover(first, second, draw))
    assert not SPACE.contains(Architecture(1, 24, (4,), (16,)))  # 4 heads of 8 need hidden 32
    with pytest.raises(UserError, match="outside the SuperNet"):
        SPACE.check(Architecture(4, 32, (1,) * 4, (16,) * 4), "the hand-made shape")


def cost_ms(arch: Architecture) -> float:
    """A latency with the shape of a real one: a fixed cost, per layer, and per multiply-add."""
    features = encode(arch, SPACE.head_size)
    return 0.3 + 0.05 * arch.layers + 0.9 * features[5] * 1000 + 0.6 * features[6] * 1000 + 0.2 * features[7] * 100


def test_predictor_fits_a_cost_model_within_a_few_percent_on_unseen_sub_networks():
    draw = random.Random(0)
    archs = list(dict.fromkeys(SPACE.sample(draw) for _ in range(80)))
    noise = np.random.default_rng(0).normal(1, 0.02, len(archs))  # 2% timing noise
    measured = [cost_ms(arch) * factor for arch, factor in zip(archs, noise, strict=True)]
    fit, held = held_out_split(len(archs), 0.25, seed=0)
    assert not set(fit) & set(held) and {0, 1} <= set(fit)
    predictor = fit_predictor([archs[i] for i in fit], [measured[i] for i in fit], SPACE.head_size, "auto", seed=0)
    assert predictor.kind == min(predictor.cross_validated_mape, key=predictor.cross_validated_mape.get)
    predicted = predictor.predict([archs[i] for i in held])
    errors = np.abs(predicted - np.array([measured[i] for i in held])) / np.array([measured[i] for i in held])
    assert errors.mean() < 0.05


def test_latency_is_measured_on_the_int8_onnx_graph_and_grows_with_the_network():
    model = MODEL.model_copy(update={"max_length": 128})
    times = [measure(arch, SPACE, model, VOCAB, runs=10, fuse_skip_layer_norm=False, seed=0)
             for arch in (SPACE.smallest(), SPACE.largest())]
    assert 0 < times[0] < times[1]


def score_by_shape(arch: Architecture) -> float:
    """A val score that rewards width in the first layer and depth: a landscape with a clear optimum."""
    return (arch.heads[0] + arch.ffn[0] / 16 + 2 * arch.layers) / 20 + arch.hidden / 1000


@pytest.mark.parametrize("search", [random_search, evolutionary_search])
def test_searches_respect_the_budget_and_evaluate_as_many_distinct_sub_networks(search):
    config = SearchConfig(latency_ms=5.0, population=6, generations=4, parents=3)
    candidates = search(SPACE, score_by_shape, cost_ms, config, seed=0)
    assert len(candidates) == 24 == len({candidate.arch for candidate in candidates})
    assert all(cost_ms(candidate.arch) <= 5.0 for candidate in candidates)
    assert all(candidate.latency_ms == cost_ms(candidate.arch) for candidate in candidates)
    curve = best_so_far(candidates)
    assert curve == sorted(curve) and curve[-1] == max(candidate.val_roc_auc for candidate in candidates)


def test_evolution_finds_a_better_score_than_random_with_the_same_evaluations():
    config = SearchConfig(latency_ms=5.0, population=6, generations=4, parents=3)
    won = [max(c.val_roc_auc for c in evolutionary_search(SPACE, score_by_shape, cost_ms, config, seed))
           >= max(c.val_roc_auc for c in random_search(SPACE, score_by_shape, cost_ms, config, seed))
           for seed in range(5)]
    assert sum(won) >= 4


def test_an_unreachable_budget_is_a_clear_error():
    config = SearchConfig(latency_ms=0.01, population=2, generations=1, parents=1)
    with pytest.raises(UserError, match=r"search\.latency_ms = 0\.01"):
        random_search(SPACE, score_by_shape, cost_ms, config, seed=0)


def test_pareto_front_keeps_only_unbeaten_candidates():
    candidates = random_search(SPACE, score_by_shape, cost_ms, SearchConfig(latency_ms=20, population=5, generations=4,
                                                                            parents=2), seed=1)
    front = pareto_front(candidates)
    for member in front:
        assert not any(other.latency_ms <= member.latency_ms and other.val_roc_auc > member.val_roc_auc
                       for other in candidates)
    assert [member.latency_ms for member in front] == sorted(member.latency_ms for member in front)
