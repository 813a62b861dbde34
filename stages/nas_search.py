"""search: SuperNet + latency predictor + val -> models/search/best.json + metrics/search.json + plots/search/.

Random and evolutionary search under `search.latency_ms`, the same number of evaluations each; every evaluated
sub-network is written (plots/search/candidates.csv, with the Pareto front marked), and the best score after each
evaluation for both searches (plots/search/progress.csv). The `pareto` stage places the hand-made and pruned shapes.
"""

import pandas as pd

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.core.records import load_file
from tinydetect.evaluation.plots import write_csv
from tinydetect.modeling.tokenizer import DetectorTokenizer
from tinydetect.nas.latency import load_predictor
from tinydetect.nas.search import best, best_so_far, evolutionary_search, pareto_front, random_search
from tinydetect.nas.supernet import ValScorer, load_supernet


def main() -> None:
    params = load_params("base", "model", "search")
    config, seed = params["search"], params["base"].seed
    supernet = load_supernet("models/supernet")
    predict = load_predictor("models/latency/predictor.joblib")
    tokenizer = DetectorTokenizer.load("models/tokenizer", max_length=params["model"].max_length)
    score = ValScorer(supernet, tokenizer, load_file("data/split/val.jsonl"))
    searched = {"random": random_search(supernet.space, score, predict, config, seed),
                "evolutionary": evolutionary_search(supernet.space, score, predict, config, seed)}
    every = searched["random"] + searched["evolutionary"]
    chosen = best(every)
    front = set(pareto_front(every))
    rows = [{**candidate.row(), "pareto": candidate in front} for candidate in every]
    write_csv("plots/search/candidates.csv", pd.DataFrame(rows))
    curves = {method: best_so_far(candidates) for method, candidates in searched.items()}
    write_csv("plots/search/progress.csv", pd.DataFrame({"evaluated": range(1, len(curves["random"]) + 1), **{
        f"best_val_roc_auc_{method}": curve for method, curve in curves.items()}}))
    write_json("models/search/best.json", chosen.row())
    write_json("metrics/search.json", {
        "latency_ms_budget": config.latency_ms,
        "evaluated_per_method": len(curves["random"]),
        "best": {key: chosen.row()[key] for key in ("method", "label", "predicted_latency_ms", "val_roc_auc")},
        "best_val_roc_auc": {method: round(curve[-1], 6) for method, curve in curves.items()},
        "pareto_front": len(front),
    })


if __name__ == "__main__":
    exit_on_user_error(main)
