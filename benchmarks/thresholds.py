"""Threshold policies compared on one quality run's saved scores, without training again.

Reads `benchmarks/results/scores_<data>.jsonl` (the detector's P(AI) for every val and test text,
written by `benchmarks.quality`), picks the cut on val with each policy `eval.threshold_policy`
offers, and reports on test what a user of that cut gets: the share of human texts labelled AI
(pooled and in the worst domain) and the share of AI texts caught, beside the best recall the ROC
curve allows at 1% FPR. Each policy is also tried per language (its cut chosen on each language's val
texts alone, `decision.threshold.threshold_from_val` as `train` makes it), where val holds both labels in
more than one language. Writes `benchmarks/results/thresholds_<data>.json` (with `--scores`: named after the scores file).

    python -m benchmarks.thresholds --data both
    python -m benchmarks.thresholds --data katfish --scores benchmarks/results/ablation_katfish_row3_scores.jsonl
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np

from benchmarks import REPO_ROOT
from benchmarks._common import commit
from tinydetect.core.files import read_lines, write_json
from tinydetect.decision.policies import THRESHOLD_POLICIES
from tinydetect.decision.threshold import threshold_from_val
from tinydetect.evaluation.metrics import tpr_at_fpr


def load_scores(path: Path) -> dict[str, dict[str, np.ndarray]]:
    rows = [json.loads(line) for line in read_lines(path)]
    parts = {}
    for part in ("val", "test"):
        chosen = [row for row in rows if row["split"] == part]
        parts[part] = {key: np.array([str(row[key]) if key in ("domain", "lang") else row[key] for row in chosen])
                       for key in ("label", "p_ai", "domain", "lang")}
    return parts


def outcome(scores: dict[str, np.ndarray], cut: float | np.ndarray) -> dict:
    """What labelling `p_ai > cut` does to these texts: human rates pooled and per domain, AI caught."""
    called_ai = scores["p_ai"] > cut  # one cut, or each text's
    human, machine = scores["label"] == 0, scores["label"] == 1
    per_domain = {}
    for domain in np.unique(scores["domain"][human]):
        in_domain = human & (scores["domain"] == domain)
        per_domain[domain] = {"human_labelled_ai": int(called_ai[in_domain].sum()), "human_texts": int(in_domain.sum())}
    worst = max(per_domain, key=lambda d: per_domain[d]["human_labelled_ai"] / per_domain[d]["human_texts"])
    tpr_by_lang = {lang: round(float(called_ai[machine & (scores["lang"] == lang)].mean()), 4)
                   for lang in np.unique(scores["lang"][machine])}
    return {"fpr": round(float(called_ai[human].mean()), 4), "tpr": round(float(called_ai[machine].mean()), 4),
            "tpr_by_lang": tpr_by_lang, "worst_domain": worst, **{f"worst_domain_{k}": v for k, v in per_domain[worst].items()},
            "per_domain": per_domain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=("l2r", "katfish", "both"), default="both")
    parser.add_argument("--target-fpr", type=float, default=0.01)
    parser.add_argument("--scores", type=Path, help="scores file (default: benchmarks/results/scores_<data>.jsonl)")
    args = parser.parse_args()
    scores_path = args.scores or REPO_ROOT / f"benchmarks/results/scores_{args.data}.jsonl"
    scores = load_scores(scores_path)
    val, test = scores["val"], scores["test"]
    rows = {}
    for policy in THRESHOLD_POLICIES:
        cut = threshold_from_val(policy, val["label"], val["p_ai"], args.target_fpr, list(val["domain"])).pooled
        rows[policy] = {"cut": round(cut, 6), "val": outcome(val, cut), "test": outcome(test, cut)}
        # what `eval.threshold_per_language` ships: the same choice the train stage makes
        by_language = threshold_from_val(policy, val["label"], val["p_ai"], args.target_fpr, list(val["domain"]),
                                       list(val["lang"]), per_language=True)
        if by_language.by_language:
            rows[f"{policy}, per language"] = {
                "cut": {lang: round(value, 6) for lang, value in by_language.by_language.items()} | {"other": round(cut, 6)},
                "val": outcome(val, by_language.per_text(val["lang"])),
                "test": outcome(test, by_language.per_text(test["lang"]))}
    best_tpr = tpr_at_fpr(test["label"], test["p_ai"], args.target_fpr)
    name = "thresholds_" + (args.data if args.scores is None else scores_path.stem.removesuffix("_scores"))
    write_json(REPO_ROOT / f"benchmarks/results/{name}.json",
               {"data": args.data, "scores": str(scores_path.relative_to(REPO_ROOT)), "commit": commit(), "date": date.today().isoformat(), "target_fpr": args.target_fpr,
                "test_tpr_at_target_fpr_on_roc": round(best_tpr, 4), "policies": rows})
    print(f"{args.data}: test TPR the ROC curve allows at {args.target_fpr:.0%} FPR: {best_tpr:.3f}")
    print("| policy | cut | val FPR | test FPR | worst test domain (human labelled AI) | test TPR | TPR by language |")
    print("|---|---|---|---|---|---|---|")
    for policy, row in rows.items():
        t = row["test"]
        langs = ", ".join(f"{lang} {tpr:.3f}" for lang, tpr in t["tpr_by_lang"].items())
        cut = (f"{row['cut']:.4f}" if isinstance(row["cut"], float)
               else ", ".join(f"{lang} {value:.4f}" for lang, value in row["cut"].items()))
        print(f"| {policy} | {cut} | {row['val']['fpr']:.3f} | {t['fpr']:.3f} | {t['worst_domain']} "
              f"({t['worst_domain_human_labelled_ai']} of {t['worst_domain_human_texts']}) | {t['tpr']:.3f} | {langs} |")


if __name__ == "__main__":
    main()
