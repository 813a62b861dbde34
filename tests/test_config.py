import pytest
import yaml

from tinydetect.core.config import SECTIONS, ConfigError, load_params, parse_section

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


def differences_from_defaults(section: str, written: dict | None) -> list[str]:
    """Each key `written` in params.yaml whose value is not the config model's default, as `section.key`."""
    defaults = parse_section(section, {}).model_dump()
    given = parse_section(section, written).model_dump()

    def walk(default, value, name: str) -> list[str]:
        if isinstance(default, dict) and isinstance(value, dict):
            return [diff for key in value for diff in walk(default.get(key), value[key], f"{name}.{key}")]
        return [] if default == value else [f"{name}: config {default!r}, params.yaml {value!r}"]

    return [diff for key in (written or {}) for diff in walk(defaults[key], given[key], f"{section}.{key}")]


def test_params_yaml_and_the_config_defaults_are_one_recipe():
    """A key deleted from params.yaml must not silently give another recipe: the defaults are params.yaml's values."""
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    differences = [diff for section in SECTIONS for diff in differences_from_defaults(section, raw.get(section))]
    assert not differences, differences


def test_the_defaults_check_sees_a_difference():
    assert differences_from_defaults("train", {"epochs": 99, "learning_rate": 0.0002}) == [
        "train.epochs: config 6, params.yaml 99"]
