"""eval: every model variant on the test split -> metrics/eval.json, plots/eval/, metrics/errors.jsonl."""

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
from tinydetect.metrics import choose_threshold, quality
from tinydetect.model import Detector, count_parameters, directory_size_mb
from tinydetect.records import load_file

PLOTS = "plots/eval"


def main() -> None:
    params = load_params()
    config, seed = params["eval"], params["base"].seed
    train_records, val_records, test_records = (load_file(f"data/split/{name}.jsonl") for name in ("train", "val", "test"))
    test_labels = np.array([record.label_int for record in test_records])
    test_texts = [record.text for record in test_records]

    detector = Detector.load("models/detector")
    baseline = train_baseline(train_records, config.baseline_max_features, seed)
    baseline_val_p = baseline_probability_ai(baseline, val_records)
    baseline_threshold = choose_threshold(np.array([r.label_int for r in val_records]), baseline_val_p)
    scores = {  # variant -> (p_ai on test, threshold chosen on val)
        "detector": (detector.probability_ai(test_texts), detector.threshold),
        "baseline": (baseline_probability_ai(baseline, test_records), baseline_threshold),
    }

    metrics = {name: quality(test_labels, p_ai, threshold) for name, (p_ai, threshold) in scores.items()}
    torch.set_num_threads(1)  # latency on one core, as on a phone's single inference thread
    metrics["detector"] |= latency_ms(lambda text: detector.probability_ai([text]), test_texts[: config.latency_texts])
    metrics["detector"] |= {
        "size_mb": round(directory_size_mb("models/detector"), 3),
        "parameters": count_parameters(detector.model),
    }
    metrics["test_size"] = len(test_records)
    write_json("metrics/eval.json", metrics)

    curves = {name: roc_table(test_labels, p_ai) for name, (p_ai, _) in scores.items()}
    for name, (p_ai, threshold) in scores.items():
        predicted = (p_ai > threshold).astype(int)
        write_csv(f"{PLOTS}/roc/{name}.csv", curves[name])
        write_csv(f"{PLOTS}/confusion/{name}.csv", confusion_table(test_labels, predicted))
        write_png(f"{PLOTS}/confusion_{name}.png", confusion_figure(test_labels, predicted, f"{name} on test"))
    write_png(f"{PLOTS}/roc.png", roc_figure(curves, {name: m["roc_auc"] for name, m in metrics.items() if name in scores}))
    detector_p, detector_threshold = scores["detector"]
    write_jsonl("metrics/errors.jsonl", error_rows(test_records, detector_p, detector_threshold, config.max_errors))


if __name__ == "__main__":
    exit_on_user_error(main)
