"""The microcontroller detector: n-gram hash parity between Python and C, bit-exact C inference on the host,
the AVR build in simavr (where gcc-avr and simavr are installed), the fixed-point export and the UNO budget."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from tinydetect.core.config import MCUConfig
from tinydetect.mcu import build, network, toolchain
from tinydetect.mcu.codegen import host_input, model_header, texts_header
from tinydetect.mcu.features import features, fnv1a_window, normalized_code_points, window_hashes
from tinydetect.mcu.integer import export_integer, run, run_integer

from .conftest import REPO_ROOT

TEXTS = [
    "", "a", "Hello, World! THE END.", "안녕하세요 반갑습니다. 오늘은 날씨가 좋네요",
    "👍🏽 great 🇰🇷 👩‍👩‍👧", "A\u200bI w\u200brote\u2060 this\ufeff", "a \t\n  b\u3000c\u00a0\u00a0d",
    "x\x00y\x07z\x7f", "cafe\u0301 naïve ÀÉÎ", "\ud800 lone surrogate", "Ｆｕｌｌｗｉｄｔｈ ｶﾀｶﾅ",
    "ΑΒΓ Дмитрий मराठी 中文字", "a" * 70_000,  # one bucket past 65,535 windows: the C counters saturate
]
AVR = not toolchain.avr_tools_missing()
needs_avr = pytest.mark.skipif(not AVR, reason="gcc-avr/simavr not installed (make test installs them as root)")
CONFIG = MCUConfig(buckets=64, hidden_sizes=[12, 6], epochs=4, finetune_epochs=2, qat_epochs=2, simulator_texts=5)


def corpus(seed: int, texts: int) -> build.Split:
    """Texts whose label shows in their characters: AI ones lean on a few words, human ones on many."""
    generator = np.random.default_rng(seed)
    human_words = ["the", "of", "river", "stone", "quiet", "사과", "나무", "bright", "whose", "quickly", "noisy", "바다"]
    ai_words = ["delve", "crucial", "landscape", "moreover", "중요한", "tapestry", "notably", "realm"]
    rows = [(" ".join(generator.choice(ai_words if label else human_words + ai_words, 30)), label)
            for label in generator.integers(0, 2, texts)]
    text_list = [text for text, _ in rows]
    return build.Split(np.stack([features(text, CONFIG.ngram, CONFIG.buckets) for text in text_list]),
                       np.array([label for _, label in rows]), text_list)


@pytest.fixture(scope="module")
def variants():
    torch.manual_seed(0)
    train, val, test = corpus(1, 160), corpus(2, 60), corpus(3, 40)
    models = build.train_variants(CONFIG, 0, train, val)
    return {name: build.export(name, model, CONFIG, val) for name, model in models.items()}, test


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mcu_src")
    toolchain.copy_sources(folder)
    return folder


def test_vectorized_hash_is_the_documented_loop():
    points = normalized_code_points("Zero\u200bwidth, 한국어 and 👍🏽!")
    assert window_hashes(points, 3).tolist() == [fnv1a_window(points[i:i + 3]) for i in range(len(points) - 2)]


@pytest.mark.parametrize("ngram", [1, 3, 5])
def test_c_features_equal_python_features(variants, sources, tmp_path, ngram):
    model = variants[0]["int1"]
    header = model_header(type(model)(ngram, model.buckets, model.weight_bits, model.layers, model.threshold))
    (tmp_path / "tinydetect_model.h").write_text(header)
    binary = tmp_path / "features"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Werror", f"-I{tmp_path}", f"-I{sources}",
                    str(sources / "tinydetect_mcu.c"), str(REPO_ROOT / "tests/c/mcu_features_main.c"), "-o", str(binary)],
                   check=True)
    printed = subprocess.run([str(binary)], input=host_input(TEXTS), capture_output=True, check=True).stdout.decode()
    for text, line in zip(TEXTS, printed.splitlines(), strict=True):
        windows, *feature_bytes = map(int, line.split())
        assert windows == len(window_hashes(normalized_code_points(text), ngram)), repr(text[:20])
        assert feature_bytes == features(text, ngram, model.buckets).tolist(), repr(text[:20])


def test_invisible_characters_and_spacing_do_not_change_the_features():
    clean = features("Detection should hold.", 3, 128)
    assert (features("DETECTION\u200b should\u00a0\u00a0 hold.\ufeff", 3, 128) == clean).all()
    assert not (features("Detection should fold.", 3, 128) == clean).all()


@pytest.mark.parametrize("name", build.VARIANTS)
def test_host_build_is_bit_exact_with_the_python_reference(variants, sources, tmp_path, name):
    model, test = variants[0][name], variants[1]
    texts = [*test.texts, *TEXTS]
    reference = build.printed(model, run(model, np.stack([features(text, model.ngram, model.buckets) for text in texts])))
    (tmp_path / "tinydetect_model.h").write_text(model_header(model))
    assert build.host_check(tmp_path, sources, texts, reference) == {"host_texts": len(texts), "host_matches_reference": True}


def test_host_check_fails_when_the_c_model_differs(variants, sources, tmp_path):
    int2, test = variants[0]["int2"], variants[1]
    (tmp_path / "tinydetect_model.h").write_text(model_header(variants[0]["int1"]))  # the wrong weights in C
    with pytest.raises(ValueError, match="differs from the Python reference"):
        build.host_check(tmp_path, sources, test.texts, build.printed(int2, run(int2, test.features)))


def test_integer_export_follows_the_quantization_aware_model():
    torch.manual_seed(0)
    model = network.MicroMLP([32, 8, 1])
    inputs = torch.randint(0, 64, (200, 32), dtype=torch.uint8)
    scales = network.calibrated_scales(model, network.as_inputs(inputs.numpy()), 99.9)
    for bits in (1, 2):
        quantized = network.quantized(model, bits, scales)
        with torch.no_grad():
            expected = quantized(network.as_inputs(inputs.numpy())).numpy()
        integer_logits = run_integer(export_integer(quantized, 3), inputs.numpy()) / 256
        # fixed-point multipliers and one activation rounding step apart at most
        assert np.abs(integer_logits - expected).max() < 0.05 * max(1.0, np.abs(expected).max())


def test_weights_take_only_their_levels():
    weight = torch.randn(6, 10)
    for bits, levels in ((1, 2), (2, 4)):
        alpha = network.best_weight_scale(weight, bits)
        assert len(torch.unique(network.quantize_weight(weight, alpha, bits))) <= levels


def test_pruning_keeps_the_most_important_neurons():
    model = network.MicroMLP([4, 6, 1])
    with torch.no_grad():
        model.layers[0].weight.zero_()
        model.layers[0].weight[[1, 4]] = 1.0
    pruned = network.prune_neurons(model, 0.5)
    kept_rows = pruned.layers[0].weight.detach()
    assert pruned.sizes == [4, 3, 1] and int((kept_rows == 1.0).all(dim=1).sum()) == 2  # neurons 1 and 4 stay


def test_budget_check_names_what_does_not_fit():
    usage = {"int2": {"flash_bytes": 40_000, "sram_peak_bytes": 1200}, "int1": {"flash_bytes": 6000, "sram_peak_bytes": 2100},
             "float": {"flash_bytes": 140_000, "sram_peak_bytes": 1700}}
    problems = build.over_budget(usage, MCUConfig())
    assert len(problems) == 2 and problems[0].startswith("int2: flash 40000 B") and "RAM at peak 2100 B" in problems[1]
    assert build.over_budget({"int1": {"flash_bytes": 32256, "sram_peak_bytes": 2048}}, MCUConfig()) == []
    assert build.over_budget({"int1": {"roc_auc": 0.9}}, MCUConfig()) == []  # not measured: no AVR tools


@needs_avr
def test_simulator_equals_host_and_fits_the_uno(variants, sources, tmp_path):
    model, test = variants[0]["int2"], variants[1]
    row = build.build_variant("int2", model, tmp_path, sources, test, CONFIG, with_avr=True)
    assert row["simulator_matches_host"] and row["simulated_mcu"] == "atmega328p" and row["fits_uno"]
    assert row["simulated_texts"] == CONFIG.simulator_texts and row["latency_ms_16mhz_mean"] > 0
    assert 0 < row["stack_peak_bytes"] < row["sram_peak_bytes"] <= 2048
    assert (tmp_path / "int2/firmware.hex").read_text().startswith(":")  # Intel HEX for avrdude
    symbols = subprocess.run(["avr-nm", str(tmp_path / "int2/firmware.elf")], capture_output=True, text=True).stdout
    assert "__mulsf3" not in symbols and "__addsf3" not in symbols  # the integer model links no float routine


@needs_avr
def test_simulator_results_are_parsed_from_a_real_run(sources, variants, tmp_path):
    model = variants[0]["int1"]
    (tmp_path / "tinydetect_model.h").write_text(model_header(model))
    (tmp_path / "tinydetect_texts.h").write_text(texts_header(["안녕 👋", "plain text"]))
    elf = toolchain.compile_avr(sources, [tmp_path], "avr_bench.c", toolchain.UNO_MCU, tmp_path / "bench.elf")
    results = toolchain.simulate(elf, toolchain.UNO_MCU, 2)
    reference = build.printed(model, run(model, np.stack([features(text, model.ngram, model.buckets)
                                                          for text in ["안녕 👋", "plain text"]])))
    assert [result.output for result in results] == reference
    with pytest.raises(toolchain.ToolchainError, match="printed 2 of 3 results"):
        toolchain.simulate(elf, toolchain.UNO_MCU, 3)


def test_dvc_repro_builds_and_checks_the_c_models(pipeline_repo):
    repo, log = pipeline_repo
    assert "Running stage 'mcu'" in log
    metrics = json.loads((repo / "metrics/mcu.json").read_text())
    assert set(metrics) == {"avr", *build.VARIANTS}
    for name in build.VARIANTS:
        assert metrics[name]["host_matches_reference"] and (repo / f"models/mcu/{name}/tinydetect_host").exists()
        if AVR:
            assert metrics[name]["simulator_matches_host"] and metrics[name]["simulated_texts"] == 3
    assert (repo / "plots/mcu/variants.csv").read_text().startswith("variant,model_kb,roc_auc")


def test_stage_says_what_it_skipped_without_the_avr_tools(pipeline_repo, tmp_path):
    repo, _ = pipeline_repo
    only_host = tmp_path / "bin"
    only_host.mkdir()
    for tool in ("gcc", "as", "ld"):
        os.symlink(shutil.which(tool), only_host / tool)
    env = {**os.environ, "PATH": f"{only_host}:{os.path.dirname(sys.executable)}"}
    work = tmp_path / "repo"
    shutil.copytree(repo, work, ignore=shutil.ignore_patterns(".dvc", ".git"))
    done = subprocess.run([sys.executable, "stages/mcu.py"], cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "avr-gcc, avr-objcopy, avr-size, simavr not installed: skipping the AVR build" in done.stdout
    metrics = json.loads((work / "metrics/mcu.json").read_text())
    assert metrics["avr"].startswith("skipped") and metrics["int1"]["host_matches_reference"]
    assert "flash_bytes" not in metrics["int1"] and (work / "models/mcu/int1/tinydetect_host").exists()


def test_same_seed_same_c_header():
    train, val = corpus(1, 80), corpus(2, 30)
    config = CONFIG.model_copy(update={"epochs": 2, "finetune_epochs": 1, "qat_epochs": 1})
    headers = []
    for _ in range(2):
        torch.manual_seed(np.random.randint(1 << 30))  # whatever the global state, the seed decides
        models = build.train_variants(config, 7, train, val)
        headers.append(model_header(build.export("int2", models["int2"], config, val)))
    assert headers[0] == headers[1]
