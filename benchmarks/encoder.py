"""Encoder benchmark: does the transformer learn, and does it earn its place beside the n-gram branch?

Runs the pipeline's own training steps in this process (split, tokenizer, MLM pre-training, train with the
lexical branch, fusion on val), once per seed, on the shared data as a user's labelled data, and scores on
test the encoder alone, the lexical branch alone and the two fused (what ships). Faster than
`benchmarks.quality` (no compression, export or search stages), so a recipe can be compared over seeds:

    python -m benchmarks.encoder --data l2r --seeds 3 [--set train.learning_rate=0.0001 ...] [--keep DIR]
    python -m benchmarks.encoder --data l2r --hold-out-domain ProductReview   # leave one domain out
    python -m benchmarks.encoder --table benchmarks/results/encoder_l2r*.json  # docs/detector.md's rows, from the results
    python -m benchmarks.encoder --labels-table benchmarks/results/encoder_l2r*.json  # each label's share per domain
    python -m benchmarks.encoder --cuts-table benchmarks/results/encoder_*.json  # the AI label under each policy

- Seeds vary the model (pre-training, initialisation, batches); the split is the one `base.seed` gives, so the
  spread is the recipe's own, not the data's.
- `--hold-out-domain D`: every text of domain D is test; the other domains are split as usual (their test share
  joins train). The branch is a bag of the training domains' words: this asks whether the encoder carries
  what generalises.
- Each run prints the encoder's per-epoch log (train loss, val loss, val ROC-AUC) and MLM perplexity per epoch:
  read them, not only the final number.
- `--keep DIR` keeps each seed's result in DIR and skips seeds already there, so a long run resumes; it also keeps
  each seed's pre-trained encoder, which a run changing only `train.*` reuses, and each seed's val and test scores
  of both parts (`scores-seed-<seed>-<recipe>.jsonl`: the encoder's margin before the fusion, the branch's logit),
  on which another fusion can be tried without training again.

- Each seed also gives the shipped model's three labels on test (its cuts chosen on val): the share of AI, HUMAN and
  UNSURE among the human and among the AI texts, for all of test and per domain, beside the rates promised on val.
- From each seed's kept part scores, two comparisons that need no training: other fusions (`fusion_alternatives`)
  and the AI label's test TPR and FPR under each threshold policy's cut on val (`cut_alternatives`; the summary
  gives their mean and spread over seeds beside the ROC curve's own TPR at `eval.target_fpr`).

Writes `benchmarks/results/encoder_<data>[_<domain>].json` (commit, params, seeds, per-seed rows, mean and spread).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import torch
import yaml
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from transformers import TrainerCallback

from benchmarks import REPO_ROOT
from benchmarks._common import commit
from benchmarks.quality import DATASETS, run_folder, set_overrides, write_user_data
from benchmarks.thresholds import outcome
from tinydetect.core.config import SECTIONS, parse_section
from tinydetect.core.files import iter_jsonl, write_json, write_jsonl
from tinydetect.core.records import Record, load_dir
from tinydetect.data.split import split_records
from tinydetect.decision.policies import THRESHOLD_POLICIES
from tinydetect.decision.threshold import OutOfFold, label_shares, threshold_from_val
from tinydetect.evaluation.metrics import tpr_at_fpr
from tinydetect.evaluation.slices import calibration
from tinydetect.modeling.distillation import cross_fitted_soft_labels
from tinydetect.modeling.model import margin_parts, predict_logits
from tinydetect.modeling.out_of_fold import out_of_fold_of, out_of_fold_p_ai
from tinydetect.modeling.pretraining import pretrain
from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece
from tinydetect.modeling.training import TrainingData, ended_at_prior, loss_at_prior, policy_threshold, train
from tinydetect.robustness.augmentation import augmented, augmented_teacher

PARTS = ("encoder", "lexical_branch", "fused")


def benchmark_params(overrides: Sequence[str]) -> dict:
    """params.yaml's sections, validated, with `KEY=VALUE` overrides applied (dotted keys)."""
    raw = set_overrides(yaml.safe_load((REPO_ROOT / "params.yaml").read_text()), overrides)
    return {name: parse_section(name, raw.get(name), "params.yaml") for name in SECTIONS}


def benchmark_splits(records: list[Record], params: dict, hold_out_domain: str | None) -> dict[str, list[Record]]:
    """train/val/test as the split stage makes them; with a held-out domain, test is that whole domain."""
    if hold_out_domain is None:
        return split_records(records, params["split"], params["base"].seed)
    held = [record for record in records if record.domain == hold_out_domain]
    if not held:
        domains = sorted({str(record.domain) for record in records})
        raise SystemExit(f"--hold-out-domain {hold_out_domain}: no such domain (the data has {', '.join(domains)})")
    rest = split_records([r for r in records if r.domain != hold_out_domain], params["split"], params["base"].seed)
    return {"train": rest["train"] + rest["test"], "val": rest["val"], "test": held}


class EncoderOnTest(TrainerCallback):
    """The encoder's own test ROC-AUC at the end of training, before the fusion folds its weight in.

    The Trainer has loaded the best epoch by then and the lexical branch is still detached, so the model's logits
    are the encoder's alone. Read after the fusion instead, an encoder given weight 0 scores 0.5 whatever it learned.
    """

    def __init__(self, tokenizer: DetectorTokenizer, test: Sequence[Record], val: Sequence[Record]):
        self.tokenizer, self.test, self.val, self.roc_auc = tokenizer, test, val, float("nan")
        self.margins: dict[str, np.ndarray] = {}  # split -> the encoder's logit margin per text, before the fusion

    def on_train_end(self, args, state, control, model=None, **kwargs):
        for name, records in (("val", self.val), ("test", self.test)):
            logits = predict_logits(model, self.tokenizer, [record.text for record in records])
            self.margins[name] = np.diff(logits, axis=1)[:, 0]
        self.roc_auc = roc_auc_or_nan([record.label_int for record in self.test], self.margins["test"])


def write_part_scores(path: Path, detector, fusion: dict[str, float], splits: dict[str, list[Record]],
                      encoder_margins: dict[str, np.ndarray]) -> None:
    """Each val and test text's encoder margin (before the fusion) and branch logit (the fitted regression's, the
    fusion's scale and offset taken back out): what another fusion would be fitted and scored on."""
    rows = []
    for name in ("val", "test"):
        texts = [record.text for record in splits[name]]
        branch = margin_parts(detector.model, detector.tokenizer, texts)[1]
        branch = (branch - fusion["offset"]) / fusion["branch_weight"] if fusion.get("branch_weight") else branch
        rows += [{"split": name, "id": record.id, "label": record.label_int, "domain": record.domain,
                  "lang": record.lang, "encoder": float(encoder), "branch": float(logit)}
                 for record, encoder, logit in zip(splits[name], encoder_margins[name], branch, strict=True)]
    write_jsonl(path, rows)


def cut_alternatives(scores: dict[str, dict[str, np.ndarray]], fusion: dict[str, float],
                     target_fpr: float) -> dict[str, dict]:
    """What each threshold policy's cut, chosen on val, gives the AI label on test, from a seed's kept part scores
    and its fusion (the shipped P(AI) rebuilt: the fused margin is the weighted sum of the two parts plus the offset):
    `eval.threshold_policy` compared over seeds without training again. Cuts on val alone, per language where the
    scores carry more than one (as `train` chooses them; with `eval.cut_folds` the shipped cut also saw out-of-fold
    train texts, which the kept scores do not hold)."""
    weights = np.array([fusion["encoder_weight"], fusion["branch_weight"]])
    val, test = ({**scores[name], "p_ai": expit(scores[name]["parts"] @ weights + fusion["offset"])}
                 for name in ("val", "test"))
    if not (test["label"] == 0).any():
        return {}
    alternatives = {}
    for policy in THRESHOLD_POLICIES:
        cuts = threshold_from_val(policy, val["label"], val["p_ai"], target_fpr, list(val["domain"]),
                                  list(val["lang"]), per_language=True)
        labelled = outcome(test, cuts.per_text(list(test["lang"])))
        alternatives[policy] = {"test_fpr": labelled["fpr"], "test_tpr": labelled["tpr"],
                                "worst_domain": str(labelled["worst_domain"]),
                                "worst_domain_fpr": round(labelled["worst_domain_human_labelled_ai"]
                                                          / labelled["worst_domain_human_texts"], 4)}
    return alternatives


def parts_roc_auc(detector, test: Sequence[Record], encoder_alone: float) -> dict[str, float]:
    """Test ROC-AUC of the encoder (before fusion), the branch alone and the shipped fused model."""
    labels = [record.label_int for record in test]
    encoder, branch = margin_parts(detector.model, detector.tokenizer, [record.text for record in test])
    return {"encoder": encoder_alone, "lexical_branch": roc_auc_or_nan(labels, branch),
            "fused": roc_auc_or_nan(labels, encoder + branch)}


def fused_roc_auc_by_language(test: Sequence[Record], p_ai: np.ndarray) -> dict[str, float]:
    """The shipped model's test ROC-AUC on each language's texts (the bilingual run's English slice)."""
    languages = np.array([str(record.lang) for record in test])
    labels = np.array([record.label_int for record in test])
    return {str(language): roc_auc_or_nan(labels[languages == language].tolist(), p_ai[languages == language])
            for language in sorted(set(languages))}


def best_tpr_on_test(test: Sequence[Record], p_ai: np.ndarray, target_fpr: float) -> float:
    """The test ROC curve's TPR at FPR <= target_fpr (NaN for a one-class test)."""
    labels = np.array([record.label_int for record in test])
    return round(tpr_at_fpr(labels, p_ai, target_fpr), 4) if len(set(labels.tolist())) == 2 else float("nan")


def roc_auc_or_nan(labels: Sequence[int], scores: np.ndarray) -> float:
    """ROC-AUC, or NaN for a one-class test (a held-out domain of human texts only: its labels are what counts)."""
    return round(float(roc_auc_score(labels, scores)), 6) if len(set(labels)) == 2 else float("nan")


def read_part_scores(scores_path: Path) -> dict[str, dict[str, np.ndarray]]:
    """A seed's kept part scores (`write_part_scores`) by split: `parts` (encoder margin, branch logit), `label`,
    `domain` and `lang` (the string "None" where a file predates the field)."""
    rows = [row for _, row in iter_jsonl(scores_path)]
    by_split = {}
    for name in ("val", "test"):
        mine = [row for row in rows if row["split"] == name]
        by_split[name] = {"parts": np.array([[row["encoder"], row["branch"]] for row in mine]).reshape(-1, 2),
                          "label": np.array([row["label"] for row in mine]),
                          "domain": np.array([str(row["domain"]) for row in mine]),
                          "lang": np.array([str(row.get("lang")) for row in mine])}
    return by_split


def fusion_alternatives(scores: dict[str, dict[str, np.ndarray]]) -> dict[str, float]:
    """Test ROC-AUC of other ways to weigh the two parts, from a seed's kept part scores (`read_part_scores`): the
    shipped fit on val (logistic regression, C = 1, negative weights dropped: `lexical.fuse`) leaves out what only a
    domain outside val shows, so beside it stand an equal weighing of the two scores standardised on val (nothing
    fitted to val's labels) and a regression fitted on test itself (the best any linear weighing could do: a bound,
    not a method)."""
    val_x, test_x, test_y = scores["val"]["parts"], scores["test"]["parts"], scores["test"]["label"]
    if len(set(test_y.tolist())) < 2:
        return {}
    standardised = (test_x - val_x.mean(0)) / val_x.std(0)
    bound = LogisticRegression(C=1e4, max_iter=1000).fit(standardised, test_y)
    return {"equal_weights_standardised_on_val": roc_auc_or_nan(test_y.tolist(), standardised.sum(1)),
            "fitted_on_test_bound": roc_auc_or_nan(test_y.tolist(), bound.decision_function(standardised))}


def pretrained_encoder(params: dict, splits: dict[str, list[Record]], tokenizer_proto: bytes, seed: int,
                       folder: Path) -> tuple[Path, list[float]]:
    """The MLM-trained encoder of this seed and its perplexity by epoch, made once per recipe and kept in `folder`:
    runs that change only `train.*` reuse it (pre-training is about a third of a seed's time)."""
    recipe = json.dumps([params[name].model_dump() for name in ("model", "pretrain", "tokenizer")] + [
        hashlib.sha256(tokenizer_proto).hexdigest(), sorted(record.id for record in splits["train"]), seed],
        sort_keys=True)
    encoder_dir = folder / f"encoder-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}"
    if not (encoder_dir / "perplexity.json").exists():
        train_texts, val_texts = ([record.text for record in splits[name]] for name in ("train", "val"))
        mlm_tokenizer = DetectorTokenizer(tokenizer_proto, max_length=params["model"].max_length)
        pretrained = pretrain(params["model"], params["pretrain"], mlm_tokenizer, train_texts, val_texts, seed)
        pretrained.model.save_pretrained(encoder_dir)
        write_json(encoder_dir / "perplexity.json", pretrained.perplexity_by_epoch)
    return encoder_dir, json.loads((encoder_dir / "perplexity.json").read_text())


def run_seed(params: dict, splits: dict[str, list[Record]], tokenizer_proto: bytes, seed: int, folder: Path,
             teacher_p_ai: dict[str, float] | None, recipe_key: str) -> dict:
    """One seed of pre-training + training; the test ROC-AUC of each part and the logs behind them."""
    started = time.perf_counter()
    model_config = params["model"]
    encoder_dir, perplexity_by_epoch = pretrained_encoder(params, splits, tokenizer_proto, seed, folder)
    tokenizer = DetectorTokenizer(tokenizer_proto, max_length=model_config.input_length)
    encoder_on_test = EncoderOnTest(tokenizer, splits["test"], splits["val"])
    # a collapse is a result to record here, not a reason to stop the other seeds: the guard warns (stderr)
    train_config = params["train"].model_copy(update={"encoder_guard": "warn"})
    train_records = augmented(splits["train"], train_config.augment_attacks, params["base"].seed)  # as stages/train.py
    teacher = augmented_teacher(teacher_p_ai, train_records)
    out_of_fold = calibration_scores(params, splits, tokenizer, seed, encoder_dir)  # as stages/calibrate.py
    result = train(model_config, train_config, TrainingData(tokenizer, train_records, splits["val"], teacher), seed,
                   callbacks=[encoder_on_test], threshold=policy_threshold(params["eval"], out_of_fold),
                   pretrained=encoder_dir)
    test_p_ai = result.detector.probability_ai([record.text for record in splits["test"]])  # the shipped P(AI)
    write_part_scores(folder / f"scores-seed-{seed}-{recipe_key}.jsonl", result.detector, result.fusion, splits,
                      encoder_on_test.margins)
    return {
        "seed": seed,
        "test_roc_auc": parts_roc_auc(result.detector, splits["test"], encoder_on_test.roc_auc),
        "best_val_roc_auc_encoder": round(result.best_val_roc_auc, 6),
        "val_roc_auc_fused": round(result.val_roc_auc, 6),
        "fusion": {name: round(value, 6) for name, value in result.fusion.items()},
        "labels": labels_by_domain(result.detector, splits["test"], test_p_ai),
        "test_fused_roc_auc_by_lang": fused_roc_auc_by_language(splits["test"], test_p_ai),
        "test_ece": round(calibration(np.array([record.label_int for record in splits["test"]]), test_p_ai)[1], 4),
        # what the AI label's TPR is measured against: the best any cut with test FPR <= eval.target_fpr reaches
        "test_tpr_at_target_fpr_on_roc": best_tpr_on_test(splits["test"], test_p_ai, params["eval"].target_fpr),
        "label_rates_on_val": result.detector.threshold.rates,  # on val and, with eval.cut_folds, out of fold
        "out_of_fold_texts": len(out_of_fold) if out_of_fold is not None else 0,
        "train_history": result.history,
        "pretrain_perplexity_by_epoch": perplexity_by_epoch,
        "minutes": round((time.perf_counter() - started) / 60, 2),
    }


def teacher_labels(params: dict, train_records: Sequence[Record]) -> dict[str, float] | None:
    """With `train.teacher: tfidf`, each train text's cross-fitted soft label by id (as stages/teacher.py); else None."""
    if params["train"].teacher == "none":
        return None
    soft = cross_fitted_soft_labels(train_records, params["eval"].baseline_max_features, params["base"].seed)
    return {record.id: float(p) for record, p in zip(train_records, soft, strict=True)}


def calibration_scores(params: dict, splits: dict[str, list[Record]], tokenizer: DetectorTokenizer, seed: int,
                       encoder_dir: Path) -> OutOfFold | None:
    """With `eval.cut_folds` K >= 2, the train split's out-of-fold P(AI) from K fold detectors (the calibrate stage's
    recipe, `modeling/out_of_fold.py`), which join val's behind the cuts; else None."""
    folds, recipe = params["eval"].cut_folds, params["train"].model_copy(update={"encoder_guard": "warn"})
    if folds < 2:
        return None
    seed_of_split = params["base"].seed
    p_ai = out_of_fold_p_ai(params["model"], recipe, TrainingData(tokenizer, splits["train"], splits["val"]), seed,
                            folds, prepare=lambda kept: augmented(kept, recipe.augment_attacks, seed_of_split),
                            pretrained=encoder_dir)
    return out_of_fold_of(splits["train"], p_ai)


def labels_by_domain(detector, test: Sequence[Record], p_ai: np.ndarray) -> dict[str, dict]:
    """The shipped model's three labels on test (its own cuts, chosen on val, applied to its P(AI) `p_ai`): the share
    of each label among the human and among the AI texts, for all of test and for each domain."""
    groups = {"all": list(range(len(test)))}
    for index, record in enumerate(test):
        groups.setdefault(str(record.domain), []).append(index)
    return {name: label_shares(detector.threshold, [test[i].label_int for i in rows], p_ai[rows],
                               [test[i].text for i in rows], [test[i].lang for i in rows])
            for name, rows in groups.items()}


def collapsed(history: Sequence[dict], train_records: Sequence[Record], recipe,
              teacher_p_ai: dict[str, float] | None) -> bool:
    """The guard's loss test (modeling/training.py::ended_at_prior) on this seed's log and train split."""
    labels = np.array([record.label_int for record in train_records])
    teacher = None if teacher_p_ai is None else np.array([teacher_p_ai[record.id] for record in train_records])
    return ended_at_prior(history, loss_at_prior(labels, recipe, teacher), recipe.min_loss_drop_from_prior)


def spread(rows: Sequence[dict]) -> dict[str, dict[str, float]]:
    """Mean, standard deviation and minimum over seeds of each part's test ROC-AUC."""
    summary = {}
    for part in PARTS:
        values = np.array([row["test_roc_auc"][part] for row in rows])
        summary[part] = {"mean": round(float(values.mean()), 4), "std": round(float(values.std()), 4),
                         "min": round(float(values.min()), 4)}
    ratios = [row["fusion"]["encoder_weight"] / row["fusion"]["branch_weight"] for row in rows
              if row["fusion"].get("branch_weight")]
    summary["encoder_to_branch_weight"] = {"mean": round(float(np.mean(ratios)), 4)} if ratios else {}
    summary["seeds_collapsed"] = sum(bool(row.get("encoder_collapsed")) for row in rows)
    summary["cut_alternatives"] = cut_spread(rows)
    eces = [row["test_ece"] for row in rows if "test_ece" in row]
    summary["test_ece"] = {"mean": round(float(np.mean(eces)), 4), "std": round(float(np.std(eces)), 4)} if eces else {}
    return summary


def cut_spread(rows: Sequence[dict]) -> dict[str, dict]:
    """Per threshold policy, over the seeds with kept scores: the AI label's test TPR (mean, std) beside the ROC
    curve's own at the target FPR, its test FPR (mean, max) and the worst domain's (max)."""
    kept = [row for row in rows if row.get("cut_alternatives")]
    if not kept:
        return {}
    summary = {"seeds": [row["seed"] for row in kept],
               "test_tpr_at_target_fpr_on_roc": round(float(np.mean([row["test_tpr_at_target_fpr_on_roc"]
                                                                       for row in kept])), 4)}
    for policy in kept[0]["cut_alternatives"]:
        tpr, fpr, worst = (np.array([row["cut_alternatives"][policy][key] for row in kept])
                           for key in ("test_tpr", "test_fpr", "worst_domain_fpr"))
        summary[policy] = {"test_tpr": {"mean": round(float(tpr.mean()), 4), "std": round(float(tpr.std()), 4)},
                           "test_fpr": {"mean": round(float(fpr.mean()), 4), "max": round(float(fpr.max()), 4)},
                           "worst_domain_fpr_max": round(float(worst.max()), 4)}
    return summary


def recipe_levers(recipe: dict) -> str:
    """The train levers a run turned on, for its table row ("" for the plain recipe)."""
    levers = [f"random windows {recipe['window_share']}" if recipe.get("window_share") else "",
              "attacks " + "+".join(recipe["augment_attacks"]) if recipe.get("augment_attacks") else "",
              f"teacher {recipe['teacher']}" if recipe.get("teacher", "none") != "none" else "",
              f"class weight {recipe['class_weight']}" if recipe.get("class_weight", "none") != "none" else ""]
    return "".join(f", {lever}" for lever in levers if lever)


def table_rows(results: Sequence[dict]) -> list[str]:
    """Markdown rows, one per seed and one summary per file: the docs' tables are printed from the results."""
    rows = ["| data (held-out domain); train recipe | seed | encoder val ROC-AUC by epoch | encoder alone | branch alone | fused | "
            "weights (encoder : branch) |", "|---|---|---|---|---|---|---|"]
    for result in results:
        recipe, shape, pretraining = (result["params"][name] for name in ("train", "model", "pretrain"))
        name = (result["data"] + (f" ({result['hold_out_domain']})" if result.get("hold_out_domain") else "")
                + f"; L{shape['num_hidden_layers']} H{shape['hidden_size']}, {shape['max_length']} tokens, "
                f"pretrain {pretraining['epochs']} ep.; train {recipe['epochs']} ep., lr {recipe['learning_rate']}, "
                f"warm-up {recipe['warmup_ratio']}" + recipe_levers(recipe))
        for run in result["runs"]:
            curve = ", ".join(f"{epoch['val_roc_auc']:.3f}" for epoch in run["train_history"] if "val_roc_auc" in epoch)
            curve += " (collapsed: train loss at the prior's entropy)" if run.get("encoder_collapsed") else ""
            test, fusion = run["test_roc_auc"], run["fusion"]
            rows.append(f"| {name} | {run['seed']} | {curve} | {test['encoder']:.3f} | {test['lexical_branch']:.3f} | "
                        f"{test['fused']:.3f} | {fusion['encoder_weight']:.3f} : {fusion['branch_weight']:.3f} |")
        summary = result["summary"]
        cells = " | ".join(f"**{summary[part]['mean']:.3f}** ± {summary[part]['std']:.3f} (min {summary[part]['min']:.3f})"
                           for part in PARTS)
        ratio = summary["encoder_to_branch_weight"].get("mean")
        rows.append(f"| {name} | mean ± std over {len(result['runs'])} | | {cells} | ratio {ratio:.2f} |"
                    if ratio is not None else f"| {name} | mean ± std over {len(result['runs'])} | | {cells} | |")
    return rows


LABEL_SHARES = ("human_labelled_ai", "human_labelled_human", "human_labelled_unsure", "ai_labelled_ai",
                "ai_labelled_human", "ai_labelled_unsure", "unfamiliar")


def label_rows(results: Sequence[dict]) -> list[str]:
    """Markdown rows of the three labels on test, per domain: each share's mean over the file's seeds."""
    rows = ["| data (held-out domain) | test domain | seeds | human: AI | human: HUMAN | human: UNSURE | AI: AI | "
            "AI: HUMAN | AI: UNSURE | unfamiliar |", "|---|---|---|---|---|---|---|---|---|---|"]
    for result in results:
        name = (result["data"] + (f" ({result['hold_out_domain']})" if result.get("hold_out_domain") else "")
                + recipe_levers(result["params"]["train"]))
        folds = result["params"].get("eval", {}).get("cut_folds", 0)
        name += f"; cuts on val + {folds}-fold out-of-fold train scores" if folds else ""
        policy = result["params"].get("eval", {}).get("threshold_policy")
        name += f"; {policy.removeprefix('target_fpr_')} cut" if policy else ""
        domains = sorted({domain for run in result["runs"] for domain in run.get("labels", {})}, key=lambda d: (d != "all", d))
        for domain in domains:
            runs = [run["labels"][domain] for run in result["runs"] if domain in run.get("labels", {})]
            cells = []
            for key in LABEL_SHARES:
                values = [shares[key] for shares in runs if shares.get(key) is not None]
                cells.append(f"{np.mean(values):.3f}" if values else "")
            rows.append(f"| {name} | {domain} | {len(runs)} | " + " | ".join(cells) + " |")
    return rows


def cut_rows(results: Sequence[dict]) -> list[str]:
    """Markdown rows of the AI label's test TPR under each policy's cut on val (`cut_spread`), one per results file."""
    policies = [policy for policy in THRESHOLD_POLICIES if policy != "f1"]
    rows = ["| data (held-out domain); train recipe | seeds | the ROC curve's TPR at the target FPR | "
            + " | ".join(f"{policy.removeprefix('target_fpr_')}: TPR (test FPR, worst domain's)" for policy in policies)
            + " |", "|---|---|---|" + "---|" * len(policies)]
    for result in results:
        cuts = result["summary"].get("cut_alternatives") or {}
        if not cuts:
            continue
        name = (result["data"] + (f" ({result['hold_out_domain']})" if result.get("hold_out_domain") else "")
                + recipe_levers(result["params"]["train"]))
        cells = [f"{cuts[policy]['test_tpr']['mean']:.3f} ± {cuts[policy]['test_tpr']['std']:.3f} "
                 f"({cuts[policy]['test_fpr']['max']:.3f}, {cuts[policy]['worst_domain_fpr_max']:.3f})"
                 for policy in policies]
        rows.append(f"| {name} | {len(cuts['seeds'])} | {cuts['test_tpr_at_target_fpr_on_roc']:.3f} | "
                    + " | ".join(cells) + " |")
    return rows


def print_seed(row: dict) -> None:
    print(f"\nseed {row['seed']} ({row['minutes']} min): MLM perplexity by epoch {row['pretrain_perplexity_by_epoch']}")
    print(f"{'epoch':>6}{'train loss':>11}{'val loss':>10}{'val AUC':>9}")
    for epoch in row["train_history"]:
        print(f"{epoch['epoch']:6.0f}{epoch.get('train_loss', float('nan')):11.4f}"
              f"{epoch.get('val_loss', float('nan')):10.4f}{epoch.get('val_roc_auc', float('nan')):9.4f}")
    print("test ROC-AUC: " + ", ".join(f"{name} {value:.4f}" for name, value in row["test_roc_auc"].items())
          + f"; fusion {row['fusion']}")
    if row.get("fusion_alternatives"):
        print("other fusions, test ROC-AUC: " + ", ".join(f"{name} {value:.4f}"
                                                          for name, value in row["fusion_alternatives"].items()))
    for domain, shares in row.get("labels", {}).items():
        print(f"labels on test, {domain}: " + ", ".join(f"{key} {value}" for key, value in shares.items()))


def print_summary(name: str, summary: dict) -> None:
    print(f"\n{name}: test ROC-AUC over seeds (mean ± std, min)")
    for part in PARTS:
        s = summary[part]
        print(f"  {part:<16}{s['mean']:.4f} ± {s['std']:.4f}  (min {s['min']:.4f})")
    if summary["encoder_to_branch_weight"]:
        print(f"  encoder weight / branch weight: {summary['encoder_to_branch_weight']['mean']:.3f}")
    print(f"  seeds whose encoder collapsed to the class prior: {summary['seeds_collapsed']}")
    cuts = summary.get("cut_alternatives") or {}
    if cuts:
        print(f"  the AI label's cut by policy (on val; seeds {cuts['seeds']}), test: the ROC curve's TPR at the target "
              f"FPR {cuts['test_tpr_at_target_fpr_on_roc']:.3f}")
        for policy in THRESHOLD_POLICIES:
            if policy in cuts:
                c = cuts[policy]
                print(f"    {policy:<26}TPR {c['test_tpr']['mean']:.3f} ± {c['test_tpr']['std']:.3f}, FPR mean "
                      f"{c['test_fpr']['mean']:.3f} (max {c['test_fpr']['max']:.3f}), worst domain max "
                      f"{c['worst_domain_fpr_max']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=sorted(DATASETS), default="l2r")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--seed-list", help="these seeds instead, e.g. 2 or 1,2 (a quick look at one seed)")
    parser.add_argument("--hold-out-domain", help="test on this domain only, train and validate on the others")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="params override, repeatable")
    parser.add_argument("--keep", type=Path, help="keep each seed's result here and resume from it")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, help="results JSON (default: benchmarks/results/encoder_<data>[_<domain>].json)")
    parser.add_argument("--table", type=Path, nargs="+", metavar="RESULTS_JSON",
                        help="print the docs' table rows of these results files and stop (nothing runs)")
    parser.add_argument("--labels-table", type=Path, nargs="+", metavar="RESULTS_JSON",
                        help="print the three labels' shares on test per domain (mean over seeds) and stop")
    parser.add_argument("--cuts-table", type=Path, nargs="+", metavar="RESULTS_JSON",
                        help="print the AI label's test TPR and FPR under each threshold policy's cut and stop")
    args = parser.parse_args()
    if args.cuts_table:
        print("\n".join(cut_rows([json.loads(path.read_text()) for path in args.cuts_table])))
        return
    if args.table:
        print("\n".join(table_rows([json.loads(path.read_text()) for path in args.table])))
        return
    if args.labels_table:
        print("\n".join(label_rows([json.loads(path.read_text()) for path in args.labels_table])))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    workdir = run_folder("encoder", args.data, args.keep)
    if workdir is None:
        return
    source_commit, params = commit(), benchmark_params(args.set)
    write_user_data(args.data, workdir / "real")
    splits = benchmark_splits(load_dir(workdir / "real"), params, args.hold_out_domain)
    tokenizer_proto = train_sentencepiece([r.text for r in splits["train"]], params["tokenizer"], params["base"].seed)
    teacher = teacher_labels(params, splits["train"])
    rows = []
    # a kept folder serves several recipes: each seed's result is filed under the recipe that made it
    recipe = json.dumps([{name: section.model_dump() for name, section in params.items()}, args.hold_out_domain],
                        sort_keys=True, default=str)
    recipe_key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    seeds = [int(seed) for seed in args.seed_list.split(",")] if args.seed_list else list(range(args.seeds))
    for seed in seeds:
        done = workdir / f"seed-{seed}-{recipe_key}.json"
        row = (json.loads(done.read_text()) if done.exists()
               else run_seed(params, splits, tokenizer_proto, seed, workdir, teacher, recipe_key))
        # derived here from the row's own log, for fresh and kept rows alike (kept ones may predate the field)
        row["encoder_collapsed"] = collapsed(row["train_history"], splits["train"], params["train"], teacher)
        scores_path = workdir / f"scores-seed-{seed}-{recipe_key}.jsonl"
        if scores_path.exists():
            scores = read_part_scores(scores_path)
            row["fusion_alternatives"] = fusion_alternatives(scores)
            row["cut_alternatives"] = cut_alternatives(scores, row["fusion"], params["eval"].target_fpr)
        write_json(done, row)
        print_seed(row)
        rows.append(row)
    if args.keep is None:
        shutil.rmtree(workdir)
    name = f"{args.data}" + (f"_{args.hold_out_domain}" if args.hold_out_domain else "")
    summary = spread(rows)
    write_json(args.out or REPO_ROOT / f"benchmarks/results/encoder_{name}.json", {
        "data": args.data, "hold_out_domain": args.hold_out_domain, "commit": source_commit,
        "date": date.today().isoformat(), "overrides": args.set, "seeds": seeds,
        "sizes": {part: len(records) for part, records in splits.items()},
        "params": {section: params[section].model_dump()
                   for section in ("base", "tokenizer", "model", "pretrain", "train", "eval")},
        "summary": summary, "runs": rows,
    })
    print_summary(name, summary)


if __name__ == "__main__":
    main()
