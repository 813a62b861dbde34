import pytest

from tinydetect.core.config import ConfigError, load_params, parse_section

from .conftest import REPO_ROOT


def test_repo_params_are_valid():
    params = load_params(path=REPO_ROOT / "params.yaml")
    assert params["model"].hidden_size == 312
    assert params["model"].num_hidden_layers == 4


@pytest.mark.parametrize(
    ("section", "raw", "message"),
    [
        ("train", {"learnig_rate": 0.1}, "train.learnig_rate: Extra inputs are not permitted"),
        ("train", {"batch_size": "big"}, "train.batch_size: Input should be a valid integer"),
        ("model", {"hidden_size": 100, "num_attention_heads": 12}, "not divisible by num_attention_heads"),
        ("synth", {"strategies": {"translate": 1.0}}, "unknown strategies ['translate']"),
        ("synth", {"offline": {"order": 9}}, "synth.offline.order"),
    ],
)
def test_bad_params_fail_with_their_name(section, raw, message):
    with pytest.raises(ConfigError, match=None) as raised:
        parse_section(section, raw)
    assert message in str(raised.value)


def test_unknown_section(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("trian:\n  epochs: 1\n")
    with pytest.raises(ConfigError, match="unknown sections \\['trian'\\]"):
        load_params(path=path)
