"""eval: every model variant on the test split -> metrics/eval.json, plots/eval/, data/eval/errors.jsonl.

One entry per variant in the registry (`tinydetect.runtime.variants.VARIANTS`) plus the TF-IDF baseline:
quality at the variant's threshold (each text's language's cut, where there are several), model size, one-text latency on one thread, and
agreement with the fp32 model it was made from. Core ML packages are scored through
their dequantized weights in PyTorch (no Core ML runtime off macOS) and not timed.
"""

from pathlib import Path

import numpy as np
import torch

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import read_json, write_json, write_jsonl, write_text
from tinydetect.core.records import load_file
from tinydetect.decision.probability import probability_ai
from tinydetect.decision.threshold import cut_fields, label_shares, threshold_from_val
from tinydetect.evaluation.latency import percentiles_ms, time_calls
from tinydetect.evaluation.metrics import quality
from tinydetect.evaluation.model_card import render as render_model_card
from tinydetect.evaluation.parity import parity
from tinydetect.evaluation.plots import (
    confusion_figure,
    confusion_table,
    error_rows,
    roc_figure,
    roc_table,
    size_latency_figure,
    variants_table,
    write_csv,
    write_png,
)
from tinydetect.evaluation.slices import calibration, slice_quality
from tinydetect.modeling.baseline import baseline_probability_ai, train_baseline
from tinydetect.modeling.model import count_parameters
from tinydetect.modeling.tokenizer import DetectorTokenizer
from tinydetect.runtime.scorers import load_scorer
from tinydetect.runtime.variants import HEADLINE, VARIANTS, model_size_mb

PLOTS = "plots/eval"


def main() -> None:
    params = load_params("base", "eval")
    config, seed = params["eval"], params["base"].seed
    train_records, val_records, test_records = (load_file(f"data/split/{name}.jsonl") for name in ("train", "val", "test"))
    test_labels = np.array([record.label_int for record in test_records])
    test_texts = [record.text for record in test_records]
    test_languages = [record.lang for record in test_records]
    torch.set_num_threads(1)  # every variant on one core, as on a phone's single inference thread

    metrics, scores, logits = {}, {}, {}
    for variant in VARIANTS:
        is_coreml = variant.format == "coreml"
        if is_coreml and not Path(variant.path).exists():
            continue  # not in coreml.variants, or needs macOS (w8a8)
        scorer = load_scorer(variant.path, threads=1)
        logits[variant.name] = scorer.logits(test_texts)
        p_ai = probability_ai(logits[variant.name])  # from the logits just computed: one pass over test
        scores[variant.name] = (p_ai, scorer.threshold.per_text(test_languages))
        metrics[variant.name] = (quality(test_labels, *scores[variant.name]) | cut_fields(scorer.threshold)
                                 | label_shares(scorer.threshold, test_labels, p_ai, test_texts, test_languages)
                                 | {"size_mb": round(model_size_mb(variant.path), 3)})
        # quantizing or exporting keeps the parameter count of the fp32 model it came from
        source_parameters = metrics[variant.source]["parameters"] if variant.source else count_parameters(scorer.model)
        metrics[variant.name]["parameters"] = source_parameters
        if variant.source:
            agreement = parity(logits[variant.source], logits[variant.name], scores[variant.source][1])
            metrics[variant.name]["agreement_with_source"] = agreement["label_agreement"]
        if not is_coreml:  # a Core ML package is timed on Apple hardware, not here
            timings = time_calls(lambda text, s=scorer: s.probability_ai([text]), test_texts[: config.latency_texts])
            metrics[variant.name] |= percentiles_ms(timings)
        print(f"{variant.name}: roc_auc {metrics[variant.name]['roc_auc']:.3f} size {metrics[variant.name]['size_mb']} MB")

    baseline = train_baseline(train_records, config.baseline_max_features, seed)
    baseline_val_p = baseline_probability_ai(baseline, val_records)
    baseline_threshold = threshold_from_val(config.threshold_policy, np.array([r.label_int for r in val_records]),
                                          baseline_val_p, config.target_fpr, [r.domain for r in val_records],
                                          [r.lang for r in val_records], config.threshold_per_language)
    scores["baseline"] = (baseline_probability_ai(baseline, test_records), baseline_threshold.per_text(test_languages))
    metrics["baseline"] = quality(test_labels, *scores["baseline"]) | cut_fields(baseline_threshold)
    detector_p, detector_threshold = scores["detector"]
    reliability, metrics["detector"]["ece"] = calibration(test_labels, detector_p)
    slices = slice_quality(test_records, detector_p, detector_threshold)
    metrics["test_size"] = len(test_records)
    write_json("metrics/eval.json", metrics)
    write_json("metrics/slices.json", {"detector": slices})
    write_csv(f"{PLOTS}/calibration/detector.csv", reliability)
    write_plots(test_labels, scores, metrics)
    write_jsonl("data/eval/errors.jsonl", error_rows(test_records, detector_p, detector_threshold, config.max_errors))
    splits = {"train": train_records, "val": val_records, "test": test_records}
    config_json = read_json("models/detector/config.json")
    training = {"pretrain": read_json("metrics/pretrain.json"), "train": read_json("metrics/train.json"),
                "policy": {"threshold_policy": config.threshold_policy, "target_fpr": config.target_fpr,
                           "threshold_per_language": config.threshold_per_language, "target_fnr": config.target_fnr,
                           "min_words": config.min_words, "unfamiliar_share": config.unfamiliar_share,
                           "cut_folds": config.cut_folds},
                "normalization": DetectorTokenizer.load("models/detector").normalization}
    write_text("models/MODEL_CARD.md", render_model_card(splits, config_json, metrics, slices, training))


def write_plots(test_labels: np.ndarray, scores: dict, metrics: dict) -> None:
    curves = {name: roc_table(test_labels, p_ai) for name, (p_ai, _) in scores.items()}
    for name, curve in curves.items():
        write_csv(f"{PLOTS}/roc/{name}.csv", curve)
    shown = [name for name in (*HEADLINE, "baseline") if name in scores]
    for name in shown:
        p_ai, threshold = scores[name]
        predicted = (p_ai > threshold).astype(int)
        write_csv(f"{PLOTS}/confusion/{name}.csv", confusion_table(test_labels, predicted))
        if name == "detector":
            write_png(f"{PLOTS}/confusion_{name}.png", confusion_figure(test_labels, predicted, f"{name} on test"))
    write_png(f"{PLOTS}/roc.png", roc_figure({name: curves[name] for name in shown},
                                             {name: metrics[name]["roc_auc"] for name in shown}))
    timed = {name: m for name, m in metrics.items() if isinstance(m, dict) and "latency_ms_p50" in m}
    write_csv(f"{PLOTS}/variants.csv", variants_table(metrics))
    write_png(f"{PLOTS}/size_latency_auc.png", size_latency_figure(
        {name: m["size_mb"] for name, m in timed.items()}, {name: m["latency_ms_p50"] for name, m in timed.items()},
        {name: m["roc_auc"] for name, m in timed.items()}, "p50 latency, one text, 1 thread, tokenizer included (ms)"))


if __name__ == "__main__":
    exit_on_user_error(main)
