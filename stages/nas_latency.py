"""latency: the search space -> models/latency/ (measured sub-networks, the fitted predictor) + metrics + plot.

`latency.samples` sub-networks timed as ONNX INT8 here (1 thread, batch 1), the predictor fitted on all but
`latency.held_out_fraction` of them and scored on those.
"""

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_percentage_error

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.evaluation.plots import write_csv
from tinydetect.modeling.tokenizer import DetectorTokenizer
from tinydetect.nas.latency import (
    fit_predictor,
    held_out_split,
    measure,
    measure_all,
    sample_to_measure,
    save_predictor,
)
from tinydetect.nas.space import SearchSpace

OUT = "models/latency"


def main() -> None:
    params = load_params("base", "model", "quantize", "supernet", "latency")
    model, config, seed = params["model"], params["latency"], params["base"].seed
    space = SearchSpace.from_config(params["supernet"])
    vocab_size = DetectorTokenizer.load("models/tokenizer").vocab_size
    archs = sample_to_measure(space, config.samples, seed)
    measured = measure_all(archs, lambda arch: measure(
        arch, space, model, vocab_size, config.runs, params["quantize"].fuse_skip_layer_norm, seed))
    fit, held = held_out_split(len(archs), config.held_out_fraction, seed)
    predictor = fit_predictor([archs[i] for i in fit], [measured[i] for i in fit], space.head_size,
                              config.predictor, seed)
    predicted = predictor.predict(archs)
    roles = ["fit" if i in fit else "held_out" for i in range(len(archs))]
    table = pd.DataFrame({"label": [arch.label() for arch in archs], "set": roles,
                          "measured_ms": np.round(measured, 4), "predicted_ms": np.round(predicted, 4)})
    write_csv(f"{OUT}/measured.csv", table)
    save_predictor(predictor, f"{OUT}/predictor.joblib")
    write_csv("plots/latency/predicted_vs_measured.csv", table)
    held_rows = table[table["set"] == "held_out"]
    errors = np.abs(held_rows["predicted_ms"] - held_rows["measured_ms"]) / held_rows["measured_ms"]
    write_json("metrics/latency.json", {
        "sub_networks_measured": len(archs), "fit": len(fit), "held_out": len(held), "predictor": predictor.kind,
        "cross_validated_mape": predictor.cross_validated_mape,
        "held_out_mape": round(float(mean_absolute_percentage_error(held_rows["measured_ms"],
                                                                     held_rows["predicted_ms"])), 6),
        "held_out_max_ape": round(float(errors.max()), 6),
        "measured_ms": {"fastest": round(min(measured), 4), "slowest": round(max(measured), 4)},
    })


if __name__ == "__main__":
    exit_on_user_error(main)
