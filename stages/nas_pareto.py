"""pareto: the search's candidates + the hand-made and pruned shapes -> plots/search/pareto.{csv,png} + metrics/pareto.json.

The hand-made shape (`model:`) and the shape `prune` leaves of it are scored as the candidates were (the
SuperNet's inherited weights on val, the predictor's latency) and also timed here (ONNX INT8, 1 thread), so
they sit on the same axes as the search's front.
"""

import pandas as pd

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.core.records import load_file
from tinydetect.evaluation.plots import write_csv, write_png
from tinydetect.modeling.tokenizer import DetectorTokenizer
from tinydetect.nas.latency import load_predictor, measure, measure_all
from tinydetect.nas.plots import search_figure
from tinydetect.nas.search import Candidate
from tinydetect.nas.space import hand_made, pruned_shape
from tinydetect.nas.supernet import ValScorer, load_supernet


def main() -> None:
    params = load_params("base", "model", "prune", "quantize", "latency", "search")
    model, seed = params["model"], params["base"].seed
    supernet = load_supernet("models/supernet")
    predict = load_predictor("models/latency/predictor.joblib")
    tokenizer = DetectorTokenizer.load("models/tokenizer", max_length=model.max_length)
    score = ValScorer(supernet, tokenizer, load_file("data/split/val.jsonl"))
    shapes = {"hand-made": hand_made(model), "pruned": pruned_shape(model, params["prune"])}
    measured = measure_all(list(shapes.values()), lambda arch: measure(
        arch, supernet.space, model, tokenizer.vocab_size, params["latency"].runs,
        params["quantize"].fuse_skip_layer_norm, seed))
    references, rows = {}, pd.read_csv("plots/search/candidates.csv").to_dict("records")
    for (name, arch), measured_ms in zip(shapes.items(), measured, strict=True):
        row = {"label": arch.label(), "measured_ms": round(measured_ms, 4)}
        if supernet.space.contains(arch):  # else the SuperNet cannot score it: only its latency is known
            candidate = Candidate(name, 0, arch, predict(arch), score(arch))
            rows.append({**candidate.row(), "pareto": False})
            row |= {"predicted_ms": candidate.row()["predicted_latency_ms"], "val_roc_auc": candidate.row()["val_roc_auc"]}
        references[name] = row
    table = pd.DataFrame(rows)
    write_csv("plots/search/pareto.csv", table)
    progress = pd.read_csv("plots/search/progress.csv")
    write_png("plots/search/pareto.png", search_figure(table, progress, params["search"].latency_ms))
    write_json("metrics/pareto.json", references)


if __name__ == "__main__":
    exit_on_user_error(main)
