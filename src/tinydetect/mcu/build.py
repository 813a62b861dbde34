"""The mcu stage's work: train the four variants, export them to C, check them on the host and the simulator.

Variants (VARIANTS): `float` (the trained MLP), `pruned` (half the hidden neurons gone, fine-tuned),
`int2` and `int1` (the pruned model after quantization-aware training at 2 and 1 bits). Every variant's
test scores come from its exported form (integer.run), the arithmetic the C code performs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from tinydetect.core.config import MCUConfig
from tinydetect.core.errors import UserError
from tinydetect.core.files import write_text
from tinydetect.core.records import Record
from tinydetect.decision.policies import choose_threshold
from tinydetect.evaluation.metrics import quality
from tinydetect.mcu import network, toolchain
from tinydetect.mcu.codegen import CHUNK_BYTES, host_input, model_header, texts_header, utf8
from tinydetect.mcu.features import feature_matrix
from tinydetect.mcu.integer import ExportedModel, export_float, export_integer, run

VARIANTS = ("float", "pruned", "int2", "int1")
QUANTIZED = {"int2": 2, "int1": 1}
MUST_FIT = tuple(QUANTIZED)  # the variants the stage fails without (budget check)
LARGE_FLASH_BYTES = 253_952  # ATmega2560: 256 KB less an 8 KB bootloader
BENCH_HEADROOM_BYTES = 4096  # flash the bench harness needs beyond the firmware (printf, timer, texts' offsets)


@dataclass(frozen=True)
class Split:
    features: np.ndarray  # (texts, buckets) uint8
    labels: np.ndarray  # (texts,) 0 human, 1 AI
    texts: list[str]


def featurize(records: Sequence[Record], config: MCUConfig) -> Split:
    texts = [record.text for record in records]
    return Split(feature_matrix(texts, config.ngram, config.buckets),
                 np.array([record.label_int for record in records]), texts)


def _recipe(config: MCUConfig, seed: int, epochs: int, learning_rate: float) -> network.Recipe:
    return network.Recipe(epochs, learning_rate, config.batch_size, config.weight_decay, seed)


def train_variants(config: MCUConfig, seed: int, train: Split, val: Split) -> dict[str, network.MicroMLP]:
    """float -> pruned -> int2, int1 (each quantized copy trained from the pruned model)."""
    torch.manual_seed(seed)  # the initial weights: torch seeds itself at random in every process
    train_set = (network.as_inputs(train.features), train.labels)
    val_set = (network.as_inputs(val.features), val.labels)
    float_model = network.fit(network.MicroMLP([config.buckets, *config.hidden_sizes, 1]),
                                 _recipe(config, seed, config.epochs, config.learning_rate), train_set, val_set)
    fine_tune = _recipe(config, seed, config.finetune_epochs, config.learning_rate / 3)
    pruned = network.fit(network.prune_neurons(float_model, config.prune_fraction), fine_tune, train_set, val_set)
    models = {"float": float_model, "pruned": pruned}
    scales = network.calibrated_scales(pruned, train_set[0], config.activation_percentile)
    qat = _recipe(config, seed, config.qat_epochs, config.learning_rate / 3)
    for name, bits in QUANTIZED.items():
        models[name] = network.fit(network.quantized(pruned, bits, scales), qat, train_set, val_set)
    return models


def export(name: str, model: network.MicroMLP, config: MCUConfig, val: Split) -> ExportedModel:
    """The variant as the C code runs it, with its F1-optimal cut on val's outputs."""
    exported = export_integer(model, config.ngram) if name in QUANTIZED else export_float(model, config.ngram)
    return replace(exported, threshold=choose_threshold(val.labels, run(exported, val.features).astype(np.float64)))


def test_quality(model: ExportedModel, outputs: np.ndarray, test: Split) -> dict:
    scores = quality(test.labels, outputs.astype(np.float64), model.threshold)
    return {key: scores[key] for key in ("roc_auc", "accuracy", "f1", "false_positive_rate", "tpr_at_5pct_fpr")}


def printed(model: ExportedModel, outputs: np.ndarray) -> list[str]:
    """Outputs of `integer.run` as the C programs print them (integers; float bits in hex)."""
    if model.weight_bits is None:
        return [f"{value:08x}" for value in outputs.astype(np.float32).view(np.uint32)]
    return [str(int(value)) for value in outputs]


def host_check(model_dir: Path, sources: Path, texts: Sequence[str], reference: list[str]) -> dict:
    """Compile the host binary, run every text through it, compare with the Python reference's printed outputs."""
    binary = toolchain.compile_host(sources, model_dir, model_dir / "tinydetect_host")
    host = toolchain.run_host(binary, host_input(texts))
    mismatches = sum(a != b for a, b in zip(host, reference, strict=True))
    if mismatches:
        raise UserError(f"{model_dir}: the host build differs from the Python reference on {mismatches} of "
                        f"{len(reference)} test texts")
    return {"host_texts": len(reference), "host_matches_reference": True}


def text_batches(texts: Sequence[str], budget_bytes: int) -> list[list[int]]:
    """Indexes of texts grouped so each group's UTF-8 fits in `budget_bytes` of flash (one per group at least).

    >>> text_batches(["aaaa", "bb", "cccccc", "d"], 6)
    [[0, 1], [2], [3]]
    """
    batches: list[list[int]] = [[]]
    used = 0
    for index, text in enumerate(texts):
        size = len(utf8(text))
        if batches[-1] and used + size > budget_bytes:
            batches.append([])
            used = 0
        batches[-1].append(index)
        used += size
    return batches


def fits(usage: dict, config: MCUConfig) -> bool:
    return usage["flash_bytes"] <= config.flash_budget_bytes and usage["sram_peak_bytes"] <= config.sram_budget_bytes


def over_budget(usage: dict[str, dict], config: MCUConfig) -> list[str]:
    """What breaks the UNO budget among the variants that must fit, one line each (empty: all fit).

    Only measured variants count: without the AVR tools there is nothing to check (the stage says so).
    """
    return [f"{name}: flash {usage[name]['flash_bytes']} B (budget {config.flash_budget_bytes}), "
            f"RAM at peak {usage[name]['sram_peak_bytes']} B (budget {config.sram_budget_bytes})"
            for name in MUST_FIT if "flash_bytes" in usage.get(name, {}) and not fits(usage[name], config)]


def firmware_size(model_dir: Path, sources: Path, config: MCUConfig) -> tuple[dict[str, int], str]:
    """avr-size of the firmware for the UNO; a model too large for it is built for the Mega instead."""
    elf = model_dir / "firmware.elf"
    try:
        size = toolchain.avr_size(toolchain.compile_avr(sources, [model_dir], "avr_firmware.c", toolchain.UNO_MCU, elf))
        if size["flash_bytes"] <= config.flash_budget_bytes:
            toolchain.write_hex(elf)
            return size, toolchain.UNO_MCU
    except toolchain.ToolchainError as error:
        if "overflow" not in str(error):  # the linker's "region `text' overflowed": anything else is a real failure
            raise
    toolchain.write_hex(toolchain.compile_avr(sources, [model_dir], "avr_firmware.c", toolchain.LARGE_MCU, elf))
    return toolchain.avr_size(elf), toolchain.LARGE_MCU


def avr_check(model_dir: Path, sources: Path, texts: Sequence[str], host: list[str], config: MCUConfig) -> dict:
    """Firmware size from avr-size; the bench harness in simavr on the first texts: outputs, cycles, stack."""
    size, mcu = firmware_size(model_dir, sources, config)
    flash_left = (config.flash_budget_bytes if mcu == toolchain.UNO_MCU else LARGE_FLASH_BYTES) - size["flash_bytes"]
    texts = texts[:config.simulator_texts]
    results: list[toolchain.SimulatedText] = []
    with tempfile.TemporaryDirectory() as scratch:
        for batch in text_batches(texts, max(1024, min(CHUNK_BYTES, flash_left - BENCH_HEADROOM_BYTES))):
            write_text(Path(scratch) / "tinydetect_texts.h", texts_header([texts[index] for index in batch]))
            elf = toolchain.compile_avr(sources, [model_dir, Path(scratch)], "avr_bench.c", mcu, Path(scratch) / "bench.elf")
            results += toolchain.simulate(elf, mcu, len(batch))
    mismatches = sum(result.output != expected for result, expected in zip(results, host, strict=False))
    if mismatches:
        raise UserError(f"{model_dir}: simavr's outputs differ from the host build's on {mismatches} of {len(results)} texts")
    latencies_ms = np.array([result.cycles for result in results]) / toolchain.CLOCK_HZ * 1000
    stack = max(result.stack_bytes for result in results)
    return {**size, "stack_peak_bytes": stack, "sram_peak_bytes": size["sram_static_bytes"] + stack,
            "simulated_mcu": mcu, "simulated_texts": len(results), "simulator_matches_host": True,
            "latency_ms_16mhz_mean": round(float(latencies_ms.mean()), 3),
            "latency_ms_16mhz_p50": round(float(np.median(latencies_ms)), 3),
            "text_bytes_mean": round(float(np.mean([len(utf8(text)) for text in texts])), 1)}


def build_variant(name: str, model: ExportedModel, out_dir: Path, sources: Path, test: Split,
                  config: MCUConfig, with_avr: bool) -> dict:
    """Header, host build and check, and (with the AVR tools) firmware size and simulator run of one variant."""
    model_dir = out_dir / name
    model_dir.mkdir(parents=True, exist_ok=True)
    write_text(model_dir / "tinydetect_model.h", model_header(model))
    outputs = run(model, test.features)
    reference = printed(model, outputs)
    row = {"weight_bits": model.weight_bits or 32, "parameters": model.parameters, "widths": model.widths,
           "model_bytes": model.model_bytes,
           **{key: round(value, 6) for key, value in test_quality(model, outputs, test).items()},
           "threshold": round(float(model.threshold), 6)}
    row |= host_check(model_dir, sources, test.texts, reference)
    if with_avr:
        row |= avr_check(model_dir, sources, test.texts, reference, config)
        row["fits_uno"] = fits(row, config)
    return row


def build_all(config: MCUConfig, seed: int, records: Mapping[str, Sequence[Record]], out_dir: Path,
              with_avr: bool) -> dict[str, dict]:
    """Train every variant on the train/val/test records and build it under `out_dir` (C sources in `src/`)."""
    splits = {name: featurize(records[name], config) for name in ("train", "val", "test")}
    models = train_variants(config, seed, splits["train"], splits["val"])
    toolchain.copy_sources(out_dir / "src")
    return {name: build_variant(name, export(name, models[name], config, splits["val"]), out_dir, out_dir / "src",
                                splits["test"], config, with_avr)
            for name in VARIANTS}
