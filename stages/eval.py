"""eval: every model variant on the test split -> metrics/eval.json, plots/eval/, metrics/errors.jsonl.

One entry per variant (see `tinydetect.variants.VARIANTS`) plus the TF-IDF baseline:
quality at the variant's threshold, model size, one-text latency on one thread, and
agreement with the fp32 model it was made from.
"""

import numpy as np
import torch

from tinydetect.baseline import baseline_probability_ai, train_baseline
from tinydetect.config import load_params
from tinydetect.errors import exit_on_user_error
from tinydetect.evaluation import (
    confusion_figure,
    confusion_table,
    error_rows,
    latency_ms,
    roc_figure,
    roc_table,
    write_csv,
    write_png,
)
from tinydetect.io import write_json, write_jsonl
from tinydetect.metrics import choose_threshold, parity, quality
from tinydetect.model import count_parameters
from tinydetect.records import load_file
from tinydetect.variants import VARIANTS, load_scorer, model_size_mb

PLOTS = "plots/eval"
CONFUSION_PLOTS = ("detector", "pruned_onnx_int8", "baseline")


def main() -> None:
    params = load_params()
    config, seed = params["eval"], params["base"].seed
    train_records, val_records, test_records = (load_file(f"data/split/{name}.jsonl") for name in ("train", "val", "test"))
    test_labels = np.array([record.label_int for record in test_records])
    test_texts = [record.text for record in test_records]
    torch.set_num_threads(1)  # every variant on one core, as on a phone's single inference thread

    metrics, scores, logits = {}, {}, {}
    for variant in VARIANTS:
        scorer = load_scorer(variant.path, threads=1)
        logits[variant.name] = scorer.logits(test_texts)
        p_ai = scorer.probability_ai(test_texts)
        scores[variant.name] = (p_ai, scorer.threshold)
        metrics[variant.name] = quality(test_labels, p_ai, scorer.threshold) | {"size_mb": round(model_size_mb(variant.path), 3)}
        # quantizing or exporting keeps the parameter count of the fp32 model it came from
        source_parameters = metrics[variant.source]["parameters"] if variant.source else count_parameters(scorer.model)
        metrics[variant.name]["parameters"] = source_parameters
        if variant.source:
            agreement = parity(logits[variant.source], logits[variant.name], scores[variant.source][1])
            metrics[variant.name]["agreement_with_source"] = agreement["label_agreement"]
        metrics[variant.name] |= latency_ms(lambda text, s=scorer: s.probability_ai([text]), test_texts[: config.latency_texts])
        print(f"{variant.name}: roc_auc {metrics[variant.name]['roc_auc']:.3f} size {metrics[variant.name]['size_mb']} MB")

    baseline = train_baseline(train_records, config.baseline_max_features, seed)
    baseline_val_p = baseline_probability_ai(baseline, val_records)
    baseline_threshold = choose_threshold(np.array([r.label_int for r in val_records]), baseline_val_p)
    scores["baseline"] = (baseline_probability_ai(baseline, test_records), baseline_threshold)
    metrics["baseline"] = quality(test_labels, *scores["baseline"])
    metrics["test_size"] = len(test_records)
    write_json("metrics/eval.json", metrics)
    write_plots(test_labels, scores, metrics)
    detector_p, detector_threshold = scores["detector"]
    write_jsonl("metrics/errors.jsonl", error_rows(test_records, detector_p, detector_threshold, config.max_errors))


def write_plots(test_labels: np.ndarray, scores: dict, metrics: dict) -> None:
    curves = {name: roc_table(test_labels, p_ai) for name, (p_ai, _) in scores.items()}
    for name, curve in curves.items():
        write_csv(f"{PLOTS}/roc/{name}.csv", curve)
    for name in CONFUSION_PLOTS:
        p_ai, threshold = scores[name]
        predicted = (p_ai > threshold).astype(int)
        write_csv(f"{PLOTS}/confusion/{name}.csv", confusion_table(test_labels, predicted))
        write_png(f"{PLOTS}/confusion_{name}.png", confusion_figure(test_labels, predicted, f"{name} on test"))
    shown = {name: curves[name] for name in ("detector", "pruned", "onnx_int8", "pruned_onnx_int8", "baseline")}
    write_png(f"{PLOTS}/roc.png", roc_figure(shown, {name: metrics[name]["roc_auc"] for name in shown}))


if __name__ == "__main__":
    exit_on_user_error(main)
