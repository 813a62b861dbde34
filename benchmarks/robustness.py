"""Robustness benchmark: the RAID attacks that run offline, against every shipped runtime.

Trains as `benchmarks.quality` does (the real pipeline on the L2R or KatFish data, default
params), then attacks the AI texts of the test split (`tinydetect.robustness.attacks`, RAID's
definitions and strengths, seeded) and scores them beside the clean human test texts. Per
attack and per variant (the detector, its ONNX INT8 and Core ML INT4 exports, the TF-IDF
baseline): test ROC-AUC, the share of AI texts labelled AI at the shipped threshold (TPR),
the share of AI texts the attack changed, and the share `predict` flags as obfuscated.
The paraphrase attack needs an LLM: it runs through the synth backend of `params.yaml`
(`--paraphrase-backend gemini|openai_compatible`) and is skipped, saying so, otherwise.

Writes `benchmarks/results/robustness_<data>.json` (commit, params, date).

    python -m benchmarks.robustness --data l2r [--keep DIR] [--set KEY=VALUE ...]

`--keep DIR` keeps the trained workspace; given an earlier run's folder (of this benchmark or of
`benchmarks.quality --keep`) it resumes it, so only the attacks run again.

`--refresh-rules` (with `--keep DIR` of a finished run) puts the normalization rules of the current
code into the run's tokenizers instead of training again, after checking that every train, val
and test text gets the same ids under both: then training would see the same ids and give the
same model, and only attacked text is read differently. It fails, naming the count, otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from benchmarks import REPO_ROOT
from benchmarks._common import commit
from benchmarks.quality import apply_overrides, run_folder, run_pipeline, write_user_data
from tinydetect.core.config import load_params
from tinydetect.core.files import write_json
from tinydetect.core.records import Record, load_file
from tinydetect.decision.threshold import Threshold
from tinydetect.modeling.baseline import baseline_probability_ai, train_baseline
from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece
from tinydetect.modeling.training import policy_threshold
from tinydetect.robustness.attacks import CHARACTER_LEVEL, WORD_LEVEL, attack
from tinydetect.robustness.obfuscation import obfuscation
from tinydetect.runtime.scorers import load_scorer

VARIANTS = {  # the benchmark's rows: the shipped runtimes and the yardstick
    "detector": "models/detector",
    "onnx_int8": "models/onnx/detector/model_int8.onnx",
    "coreml_int4": "models/coreml/detector/Detector_int4.mlpackage",
}
SEED = 0

Score = Callable[[Sequence[str]], tuple[np.ndarray, np.ndarray]]  # texts -> (P(AI), the cut of each text)


def scorer_of(path: Path) -> Score:
    scorer = load_scorer(path)
    return lambda texts: (scorer.probability_ai(texts), scorer.threshold.for_texts(texts))


def baseline_scorer(workdir: Path) -> Score:
    """The TF-IDF baseline as `eval` makes it: fitted on train, its cut by the same policy on val."""
    params = load_params("base", "eval", path=workdir / "params.yaml")
    config = params["eval"]
    train, val = load_file(workdir / "data/split/train.jsonl"), load_file(workdir / "data/split/val.jsonl")
    baseline = train_baseline(train, config.baseline_max_features, params["base"].seed)
    threshold: Threshold = policy_threshold(config)(
        np.array([r.label_int for r in val]), baseline_probability_ai(baseline, val),
        domains=[r.domain for r in val], languages=[r.lang for r in val])

    def score(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return baseline.predict_proba(list(texts))[:, 1], threshold.for_texts(texts)
    return score


def attacked_sets(test: Sequence[Record]) -> dict[str, list[str]]:
    """The AI texts of test, clean and under each attack."""
    ai_texts = [record.text for record in test if record.label_int == 1]
    sets = {"none": ai_texts}
    for name in (*CHARACTER_LEVEL, *WORD_LEVEL):
        sets[name] = [attack(text, name, SEED) for text in ai_texts]
    return sets


def row(score: Score, humans: list[str], ai_attacked: list[str]) -> dict:
    p_ai, cuts = score(humans + ai_attacked)
    labels = np.array([0] * len(humans) + [1] * len(ai_attacked))
    ai = labels == 1
    return {"roc_auc": round(float(roc_auc_score(labels, p_ai)), 6),
            "tpr_at_shipped_threshold": round(float((p_ai[ai] > cuts[ai]).mean()), 6),
            "fpr_at_shipped_threshold": round(float((p_ai[~ai] > cuts[~ai]).mean()), 6)}


def attack_summary(ai_clean: list[str], ai_attacked: list[str]) -> dict:
    changed = sum(a != b for a, b in zip(ai_clean, ai_attacked, strict=True))
    flagged = sum(obfuscation(text)["obfuscated"] for text in ai_attacked)
    return {"texts_changed": round(changed / len(ai_clean), 6), "flagged_obfuscated": round(flagged / len(ai_clean), 6)}


def scorers_of(workdir: Path) -> dict[str, Score]:
    """The run's variants that exist, and the baseline."""
    scorers = {name: scorer_of(workdir / path) for name, path in VARIANTS.items() if (workdir / path).exists()}
    return scorers | {"baseline": baseline_scorer(workdir)}


def run_attacks(test: Sequence[Record], scorers: dict[str, Score]) -> dict:
    humans = [record.text for record in test if record.label_int == 0]
    sets = attacked_sets(test)
    results = {}
    for attack_name, ai_texts in sets.items():
        results[attack_name] = attack_summary(sets["none"], ai_texts) | {
            "level": "clean" if attack_name == "none" else ("character" if attack_name in CHARACTER_LEVEL else "word"),
            "variants": {name: row(score, humans, ai_texts) for name, score in scorers.items()}}
        print_row(attack_name, results[attack_name])
    results["human_test_texts_flagged_obfuscated"] = round(
        sum(obfuscation(text)["obfuscated"] for text in humans) / len(humans), 6)
    return results


def print_row(name: str, result: dict) -> None:
    cells = "  ".join(f"{variant} {m['roc_auc']:.3f}/{m['tpr_at_shipped_threshold']:.3f}"
                      for variant, m in result["variants"].items())
    print(f"{name:<22} changed {result['texts_changed']:5.2f} flagged {result['flagged_obfuscated']:5.2f}  {cells}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=("l2r", "katfish"), default="l2r")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it; an earlier run's folder is resumed")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="params override, repeatable")
    parser.add_argument("--paraphrase-backend", choices=("gemini", "openai_compatible"),
                        help="paraphrase the AI texts through this synth backend (needs its key); skipped otherwise")
    parser.add_argument("--refresh-rules", action="store_true",
                        help="with --keep: the current code's normalization rules in the trained run (see above)")
    parser.add_argument("--out", type=Path, help="results JSON (default: benchmarks/results/robustness_<data>.json)")
    args = parser.parse_args()
    workdir = run_folder("robustness", args.data, args.keep)
    if workdir is None:
        return
    source_commit = commit()
    if not (workdir / "dvc.yaml").exists():
        from tinydetect.testing.workspace import copy_sources

        copy_sources(REPO_ROOT, workdir)
        write_user_data(args.data, workdir / "data/real")
    params = apply_overrides(workdir / "params.yaml", args.set)
    refreshed = refresh_rules(workdir) if args.refresh_rules else None
    minutes = 0.0 if args.refresh_rules else run_pipeline(workdir)
    print(f"\n{args.data}: ROC-AUC / TPR at the shipped threshold; AI texts attacked, human texts clean")
    test, scorers = load_file(workdir / "data/split/test.jsonl"), scorers_of(workdir)
    attacks = run_attacks(test, scorers)
    attacks["paraphrase"] = paraphrase(test, scorers, workdir / "params.yaml", args.paraphrase_backend)
    result = {"data": args.data, "commit": source_commit, "date": date.today().isoformat(), "minutes": round(minutes, 2),
              "overrides": args.set, "params": params, "seed": SEED, "rules_refreshed": refreshed, "attacks": attacks,
              "clean_eval": json.loads((workdir / "metrics/eval.json").read_text())}
    write_json(args.out or REPO_ROOT / f"benchmarks/results/robustness_{args.data}.json", result)
    if args.keep is None:
        shutil.rmtree(workdir)


def refresh_rules(workdir: Path) -> dict:
    """Swap the current rules into every tokenizer of a trained run, if no split text changes ids."""
    from sentencepiece import sentencepiece_model_pb2

    config = load_params("tokenizer", path=workdir / "params.yaml")["tokenizer"]
    probe = train_sentencepiece(["the quick brown fox jumps over the lazy dog"] * 20, config.model_copy(
        update={"vocab_size": 300}), seed=0)  # any corpus: only its compiled rules are taken
    rules = sentencepiece_model_pb2.ModelProto.FromString(probe).normalizer_spec
    old = DetectorTokenizer.load(workdir / "models/tokenizer")
    proto = sentencepiece_model_pb2.ModelProto.FromString(old.model_proto)
    changed = proto.normalizer_spec.precompiled_charsmap != rules.precompiled_charsmap
    proto.normalizer_spec.precompiled_charsmap = rules.precompiled_charsmap
    proto.normalizer_spec.name = rules.name
    new = DetectorTokenizer(proto.SerializeToString(), old.max_length)
    texts = [record.text for part in ("train", "val", "test") for record in load_file(workdir / f"data/split/{part}.jsonl")]
    differing = sum(old.processor.encode(text) != new.processor.encode(text) for text in texts)
    if differing:
        raise SystemExit(f"--refresh-rules: the current rules give {differing} of {len(texts)} split texts other ids; "
                         "train again (run without --refresh-rules)")
    for path in (workdir / "models").rglob("tokenizer.model"):
        path.write_bytes(new.model_proto)
    for path in (workdir / "models").rglob("tokenizer.json"):
        new.to_hf_tokenizer().save(str(path))
    return {"rules_changed": changed, "split_texts_checked": len(texts), "split_texts_with_other_ids": 0}


def paraphrase(test: Sequence[Record], scorers: dict[str, Score], params_path: Path, backend: str | None) -> dict:
    """RAID's paraphrase attack through an LLM; offline there is none, and the row says so."""
    if backend is None:
        return {"skipped": "needs an LLM: pass --paraphrase-backend gemini|openai_compatible with its key set"}
    from tinydetect.robustness.paraphrase import paraphrase_texts

    ai = [record for record in test if record.label_int == 1]
    humans = [record.text for record in test if record.label_int == 0]
    rewritten, rejected = paraphrase_texts(ai, backend, params_path, SEED)
    return attack_summary([r.text for r in ai], rewritten) | {
        "level": "word", "backend": backend, "replies_rejected": rejected,
        "variants": {name: row(score, humans, rewritten) for name, score in scorers.items()}}


if __name__ == "__main__":
    main()
