"""Sentence benchmark: on documents whose sentences have known authors, which sentences does the detector call AI?

Trains the shipped recipe once (one seed, as `benchmarks.encoder` does: split, tokenizer, MLM pre-training, train,
fusion), then builds mixed documents from the test split, where no text was seen in training:

- L2R: a human text whose middle run of sentences (a third of them, at a seeded place) is replaced by the same
  share of sentences, from the same relative place, of an LLM rewrite of that very text (they share `pair_id`);
- KatFish: a human essay whose run is replaced by sentences of an AI essay on the same topic (`pair_id` = topic).

Each mixed document is paired with its wholly human original, joined the same way (one sentence a line, so the
splitter finds exactly these sentences again), so nothing but the authors differs. Reported per sentence method of `tinydetect.runtime.sentences`:

- sentence-level ROC-AUC over every sentence of the mixed documents (label: its author);
- told apart: the share of (mixed, original) pairs where the mixed document's highest sentence score is above
  the original's, and the ROC-AUC of that highest score over all mixed and original documents;
- the document's own P(AI) as the baseline for telling them apart.

    python -m benchmarks.sentences --data l2r --keep /tmp/bench/sentences-l2r
    python -m benchmarks.sentences --data katfish --keep /tmp/bench/sentences-katfish
    python -m benchmarks.sentences --table benchmarks/results/sentences_*.json   # docs/extension.md's rows

Writes `benchmarks/results/sentences_<data>.json` (commit, params, seed, counts, per-method numbers).
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from benchmarks import REPO_ROOT
from benchmarks._common import commit
from benchmarks.encoder import benchmark_params, benchmark_splits, pretrained_encoder
from benchmarks.quality import run_folder, write_user_data
from tinydetect.core.files import write_json
from tinydetect.core.records import Record, load_dir
from tinydetect.core.sentences import sentences
from tinydetect.modeling.model import Detector
from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece
from tinydetect.modeling.training import TrainingData, policy_threshold, train
from tinydetect.runtime.sentences import METHODS, sentence_scores

MIN_HUMAN_SENTENCES = 3
SHARE_REPLACED = 1 / 3


def trained_detector(params: dict, splits: dict[str, list[Record]], seed: int, folder: Path) -> Detector:
    """The shipped recipe trained on `splits` (kept in `folder/detector-<seed>` and reused)."""
    saved = folder / f"detector-{seed}"
    if (saved / "config.json").exists():
        return Detector.load(saved)
    proto = train_sentencepiece([r.text for r in splits["train"]], params["tokenizer"], params["base"].seed)
    encoder_dir, _ = pretrained_encoder(params, splits, proto, seed, folder)
    tokenizer = DetectorTokenizer(proto, max_length=params["model"].input_length)
    result = train(params["model"], params["train"], TrainingData(tokenizer, splits["train"], splits["val"]), seed,
                   threshold=policy_threshold(params["eval"]), pretrained=encoder_dir)
    result.detector.save(saved)
    return result.detector


def mixed_documents(test: Sequence[Record], seed: int) -> list[dict]:
    """`{"sentences", "authors" (1 = AI), "original"}` per human test text that has an AI partner: the text with a
    run of its sentences replaced by the partner's (see the module docstring)."""
    rng = random.Random(seed)
    ai_by_group: dict[str, list[Record]] = {}
    for record in test:
        if record.label == "AI":
            ai_by_group.setdefault(record.group, []).append(record)
    documents = []
    for human in sorted((r for r in test if r.label == "HUMAN"), key=lambda r: r.id):
        human_sentences, partners = sentences(human.text), ai_by_group.get(human.group, [])
        if len(human_sentences) < MIN_HUMAN_SENTENCES or not partners:
            continue
        ai_sentences = sentences(rng.choice(sorted(partners, key=lambda r: r.id)).text)
        if not ai_sentences:
            continue
        run = max(1, round(len(human_sentences) * SHARE_REPLACED))
        start = rng.randrange(0, len(human_sentences) - run + 1)
        ai_run = max(1, round(len(ai_sentences) * SHARE_REPLACED))
        ai_start = min(len(ai_sentences) - ai_run, round(start / len(human_sentences) * len(ai_sentences)))
        mixed = human_sentences[:start] + ai_sentences[ai_start:ai_start + ai_run] + human_sentences[start + run:]
        authors = [0] * start + [1] * ai_run + [0] * (len(human_sentences) - start - run)
        documents.append({"sentences": mixed, "authors": authors, "original": human_sentences, "lang": human.lang})
    return documents


def sentence_level(detector, documents: Sequence[dict], method: str) -> dict:
    """Scores of every sentence of each mixed document and of its original, by `method`."""
    key = "drop" if method == "leave_out" else "p_ai"
    mixed, original = [], []
    for document in documents:
        for name, target in (("sentences", mixed), ("original", original)):
            scores = [row[key] for row in sentence_scores(detector, "\n".join(document[name]), method)]
            target.append(scores)
    labels = np.concatenate([document["authors"] for document in documents])
    mixed_max, original_max = np.array([max(s) for s in mixed]), np.array([max(s) for s in original])
    return {
        "sentence_roc_auc": round(float(roc_auc_score(labels, np.concatenate(mixed))), 4),
        "told_apart_pairs": round(float(np.mean(mixed_max > original_max)), 4),
        "told_apart_roc_auc": round(float(roc_auc_score([1] * len(mixed) + [0] * len(original),
                                                        np.concatenate([mixed_max, original_max]))), 4),
    }


def document_baseline(detector, documents: Sequence[dict]) -> dict:
    """Telling mixed from original by the document's own P(AI)."""
    mixed = detector.probability_ai(["\n".join(d["sentences"]) for d in documents])
    original = detector.probability_ai(["\n".join(d["original"]) for d in documents])
    return {"told_apart_pairs": round(float(np.mean(mixed > original)), 4),
            "told_apart_roc_auc": round(float(roc_auc_score([1] * len(mixed) + [0] * len(original),
                                                            np.concatenate([mixed, original]))), 4)}


def table_rows(results: Sequence[dict]) -> list[str]:
    """docs/extension.md's table: one row per data set and method."""
    rows = ["| data | mixed documents (sentences, AI) | method | sentence ROC-AUC | mixed above its original | "
            "told apart, ROC-AUC |", "|---|---|---|---|---|---|"]
    for result in results:
        size = f"{result['documents']} ({result['sentences']}, {result['ai_sentences']})"
        for method, row in [*result["methods"].items(), ("document P(AI)", result["document_p_ai"])]:
            roc = f"{row['sentence_roc_auc']:.3f}" if "sentence_roc_auc" in row else "-"
            rows.append(f"| {result['data']} | {size} | {method} | {roc} | {row['told_apart_pairs']:.3f} | "
                        f"{row['told_apart_roc_auc']:.3f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=("l2r", "katfish"), default="l2r")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep the trained detector here and reuse it")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, help="results JSON (default: benchmarks/results/sentences_<data>.json)")
    parser.add_argument("--table", type=Path, nargs="+", metavar="RESULTS_JSON",
                        help="print the docs' table rows of these results files and stop (nothing runs)")
    args = parser.parse_args()
    if args.table:
        print("\n".join(table_rows([json.loads(path.read_text()) for path in args.table])))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    workdir = run_folder("sentences", args.data, args.keep)
    if workdir is None:
        return
    params = benchmark_params([])
    write_user_data(args.data, workdir / "real")
    splits = benchmark_splits(load_dir(workdir / "real"), params, None)
    detector = trained_detector(params, splits, args.seed, workdir)
    documents = mixed_documents(splits["test"], args.seed)
    methods = {method: sentence_level(detector, documents, method) for method in METHODS}
    baseline = document_baseline(detector, documents)
    result = {"data": args.data, "commit": commit(), "date": date.today().isoformat(), "seed": args.seed,
              "params": {s: params[s].model_dump() for s in ("base", "tokenizer", "model", "pretrain", "train")},
              "documents": len(documents), "sentences": int(sum(len(d["authors"]) for d in documents)),
              "ai_sentences": int(sum(sum(d["authors"]) for d in documents)),
              "methods": methods, "document_p_ai": baseline}
    write_json(args.out or REPO_ROOT / f"benchmarks/results/sentences_{args.data}.json", result)
    print(f"{args.data}: {result['documents']} mixed documents, {result['sentences']} sentences "
          f"({result['ai_sentences']} AI)")
    print(f"{'method':<12}{'sentence ROC-AUC':>18}{'told apart (pairs)':>20}{'told apart ROC-AUC':>20}")
    for method, row in methods.items():
        print(f"{method:<12}{row['sentence_roc_auc']:>18.3f}{row['told_apart_pairs']:>20.3f}"
              f"{row['told_apart_roc_auc']:>20.3f}")
    print(f"{'document':<12}{'':>18}{baseline['told_apart_pairs']:>20.3f}{baseline['told_apart_roc_auc']:>20.3f}")


if __name__ == "__main__":
    main()
