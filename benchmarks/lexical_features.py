"""Which bag-of-n-grams model the lexical branch should be: scikit-learn alone, on the quality benchmark's split.

Splits the data as the pipeline does (`data.split`, default fractions and seed), trains the pipeline's
SentencePiece tokenizer on train, and fits logistic regressions on test-time-free features:

- the character n-gram TF-IDF baseline (`modeling.baseline`), on the whole text and on the text
  cut to the tokens BERT reads (126 pieces);
- token unigrams + hashed bigrams (the branch's own ids) over the first 126 or 510 pieces, weighted
  three ways: sublinear TF-IDF with L2 norm (the branch now), term counts with L2 norm, and the mean
  over n-grams (L1 norm: what the branch's first, fastText-style form computed);
- the branch under each tokenizer normalization (`tokenizer.normalization`, `tokenizer.casefold`): what the
  evasion-proof one costs in domain.

Prints test ROC-AUC per row and writes `benchmarks/results/lexical_features_<data>.json`. About a
minute per data set on 2 cores.

    python -m benchmarks.lexical_features --data l2r
"""

from __future__ import annotations

import argparse
from datetime import date

import numpy as np
import yaml
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from benchmarks import REPO_ROOT
from benchmarks._common import commit
from benchmarks.quality import DATASETS, user_rows
from tinydetect.core.config import SplitConfig, TokenizerConfig
from tinydetect.core.files import write_json
from tinydetect.core.records import parse_record
from tinydetect.data.split import split_records
from tinydetect.modeling.baseline import baseline_probability_ai, train_baseline
from tinydetect.modeling.lexical import LexicalBranch
from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece

SEED = 42
WEIGHTINGS = {  # name -> TfidfTransformer settings over the n-gram counts
    "sublinear TF-IDF, L2 norm (the branch)": {"sublinear_tf": True},
    "counts, L2 norm": {"use_idf": False, "norm": "l2"},
    "mean over n-grams (L1 norm, the first branch)": {"use_idf": False, "norm": "l1"},
}


def shipped_buckets() -> int:
    return int(yaml.safe_load((REPO_ROOT / "params.yaml").read_text())["model"]["lexical_buckets"])


def load_split(data: str) -> dict:
    records = [parse_record(row, f"{name}:{index}", user_data=True)
               for name in DATASETS[data] for index, row in enumerate(user_rows(name))]
    return split_records(records, SplitConfig(), SEED)


def token_rows(splits: dict, tokenizer_proto: bytes, pieces: int, weighting: dict, c: float) -> float:
    tokenizer = DetectorTokenizer(tokenizer_proto, max_length=pieces + 2)
    branch = LexicalBranch(tokenizer.vocab_size, shipped_buckets())
    counts = {}
    for part in ("train", "test"):
        encoded = tokenizer([record.text for record in splits[part]])
        counts[part] = branch.counts(encoded["input_ids"], encoded["attention_mask"])
    weights = TfidfTransformer(**weighting)
    regression = LogisticRegression(C=c, max_iter=5000, random_state=SEED)
    regression.fit(weights.fit_transform(counts["train"]), [record.label_int for record in splits["train"]])
    scores = regression.decision_function(weights.transform(counts["test"]))
    return roc_auc_score([record.label_int for record in splits["test"]], scores)


def normalization_rows(splits: dict) -> list[dict]:
    """The branch (510 pieces, C = 100) under each tokenizer normalization: what the evasion-proof one costs in
    domain (it also turns line breaks into spaces, and L2R's AI texts hold them more often than its human ones)."""
    rows = []
    for normalization, casefold in (("robust", True), ("robust", False), ("nfkc", False)):
        config = TokenizerConfig(normalization=normalization, casefold=casefold)
        proto = train_sentencepiece([record.text for record in splits["train"]], config, SEED)
        rows.append({"features": f"token uni+bigrams, {next(iter(WEIGHTINGS))}", "tokens": 510, "C": 100.0,
                     "tokenizer": f"{normalization}, casefold {str(casefold).lower()}",
                     "roc_auc": token_rows(splits, proto, 510, next(iter(WEIGHTINGS.values())), 100.0)})
        print(f"tokenizer normalization {rows[-1]['tokenizer']:<24} ROC-AUC {rows[-1]['roc_auc']:.4f}", flush=True)
    return rows


def baseline_row(splits: dict, cut_to) -> float:
    def cut(records):
        return [record.model_copy(update={"text": cut_to(record.text)}) for record in records]
    model = train_baseline(cut(splits["train"]), max_features=50000, seed=SEED)
    return roc_auc_score([record.label_int for record in splits["test"]], baseline_probability_ai(model, cut(splits["test"])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=sorted(DATASETS), default="l2r")
    args = parser.parse_args()
    splits = load_split(args.data)
    proto = train_sentencepiece([record.text for record in splits["train"]], TokenizerConfig(), SEED)
    processor = DetectorTokenizer(proto, 128).processor
    rows = [{"features": "character 2-4-gram TF-IDF (the baseline)", "tokens": "all", "C": 4.0,
             "roc_auc": baseline_row(splits, lambda text: text)},
            {"features": "character 2-4-gram TF-IDF (the baseline)", "tokens": 126, "C": 4.0,
             "roc_auc": baseline_row(splits, lambda text: processor.decode(processor.encode(text)[:126]))}]
    for pieces in (126, 510):
        for name, weighting in WEIGHTINGS.items():
            for c in (4.0, 100.0):
                rows.append({"features": f"token uni+bigrams, {name}", "tokens": pieces, "C": c,
                             "roc_auc": token_rows(splits, proto, pieces, weighting, c)})
                print(f"{rows[-1]['features']:<70} {pieces:>4} C={c:<5} ROC-AUC {rows[-1]['roc_auc']:.4f}", flush=True)
    rows += normalization_rows(splits)
    lengths = [len(processor.encode(record.text)) for record in splits["test"]]
    write_json(REPO_ROOT / "benchmarks" / "results" / f"lexical_features_{args.data}.json", {
        "data": args.data, "commit": commit(), "date": date.today().isoformat(), "seed": SEED,
        "test_texts": len(splits["test"]), "test_pieces_median": float(np.median(lengths)),
        "test_share_over_126_pieces": round(float(np.mean(np.array(lengths) > 126)), 4), "rows": rows,
    })
    for row in rows[:2]:
        print(f"{row['features']:<70} {row['tokens']:>4} C={row['C']:<5} ROC-AUC {row['roc_auc']:.4f}")


if __name__ == "__main__":
    main()
