"""`models/MODEL_CARD.md`, written by `eval` from the run's own facts, never by hand."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from tinydetect.core.records import Record
from tinydetect.evaluation.slices import generator
from tinydetect.runtime.variants import HEADLINE


def _counts(records: Sequence[Record], key) -> str:
    counts = Counter(key(record) for record in records)
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))


def _number(value) -> str:
    return "" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def data_section(splits: dict[str, Sequence[Record]]) -> list[str]:
    lines = ["## Data", "", "| split | texts | labels | languages | generators |", "|---|---|---|---|---|"]
    for name, records in splits.items():
        lines.append(f"| {name} | {len(records)} | {_counts(records, lambda r: r.label)} | "
                     f"{_counts(records, lambda r: r.lang)} | {_counts(records, generator)} |")
    sources = Counter(str((r.model_extra or {}).get("source", "unspecified")) for rs in splits.values() for r in rs
                      if r.label == "HUMAN")
    backends = Counter(str(((r.model_extra or {}).get("provenance") or {}).get("backend", "given in data/real"))
                       for rs in splits.values() for r in rs if r.label == "AI")
    lines += ["", f"Human texts by source: {', '.join(f'{k} ({v})' for k, v in sorted(sources.items()))}.",
              f"AI texts by origin: {', '.join(f'{k} ({v})' for k, v in sorted(backends.items()))}.",
              "A text and its rewrites share a `group` and never straddle two splits.", ""]
    return lines


def training_sentence(training: dict) -> str:
    """How the weights came to be: pre-training (`metrics/pretrain.json`) and distillation (`metrics/train.json`)."""
    pretrain, train = training.get("pretrain") or {}, training.get("train") or {}
    if pretrain.get("epochs"):
        origin = (f"Its encoder was pre-trained from scratch by masked-language modelling for {pretrain['epochs']} "
                  f"epochs on {pretrain['texts']:,} unlabelled texts (the train split's {pretrain['train_split_texts']:,}"
                  f" and {pretrain['unlabelled_texts']:,} from data/unlabelled/; val perplexity "
                  f"{pretrain['val_perplexity']}), with no weights from elsewhere, then trained on the labels.")
    else:
        origin = "It was trained from random weights on the labels alone (no pre-training, no weights from elsewhere)."
    teacher = train.get("distilled_from", "none")
    if teacher != "none":
        origin += (f" It also learned from the soft labels of a `{teacher}` teacher (a character n-gram model trained "
                   "on the same train split, cross-fitted so no text was labelled by a teacher that saw it).")
    fusion = train.get("fusion")
    if fusion:
        origin += (f" Encoder and lexical branch were then weighed on val by a logistic regression: logit = "
                   f"{fusion['encoder_weight']:.3f} x encoder + {fusion['branch_weight']:.3f} x branch "
                   f"{fusion['offset']:+.3f}.")
    return origin


_CUT_DESCRIPTIONS = {
    "target_fpr_pooled": "the {quantile} quantile of val's human scores, all domains together",
    "target_fpr_every_domain": "the highest of the {quantile} quantiles of val's human scores per domain",
    "target_fpr_tolerant": ("the lowest cut with at most {rate} of val's human texts above it and no domain's share "
                            "significantly higher (one-sided binomial test at 5%)"),
}


def by_language_sentence(by_language: dict[str, float] | None) -> str:
    """The per-language cuts (`decision/threshold.py`), or nothing where there is one cut."""
    if not by_language:
        return ""
    cuts = ", ".join(f"{lang} {cut:.4f}" for lang, cut in sorted(by_language.items()))
    return (f" Each language with human and AI texts in val has its own cut, chosen the same way on its val texts "
            f"alone ({cuts}); a text's language is its record's `lang`, or guessed from its script; other "
            "languages get the cut above.")


def pooled_with_train_sentence(policy: dict) -> str:
    """With `eval.cut_folds`, where the texts behind the cuts come from besides val; else nothing."""
    return f" The quantiles are taken on {cut_sample(policy)}." if policy.get("cut_folds") else ""


def threshold_sentence(threshold: float, policy: dict, by_language: dict[str, float] | None = None) -> str:
    description = _CUT_DESCRIPTIONS.get(policy.get("threshold_policy"))
    if description is None:
        return (f"Decision threshold on P(AI), chosen for the best F1 on val: {threshold:.4f}."
                f"{by_language_sentence(by_language)}")
    rate = policy["target_fpr"]
    return (f"Decision threshold on P(AI): {threshold:.4f}, {description.format(quantile=f'{1 - rate:.0%}', rate=f'{rate:.0%}')}."
            f"{by_language_sentence(by_language)}{pooled_with_train_sentence(policy)} "
            f"A label AI means: on data like the training data, about 1 in {round(1 / rate) if rate else 'every'} "
            "human texts gets it. On other kinds of text (other topics, registers, generators) the rate is higher: "
            "measure it before relying on it.")


def model_section(config: dict, parameters: int, threshold: float, training: dict,
                  by_language: dict[str, float] | None = None) -> list[str]:
    heads = config.get("layer_heads") or [config["num_attention_heads"]] * config["num_hidden_layers"]
    lexical = config.get("lexical_buckets", 0)
    branch = (f" Beside the encoder, a lexical branch adds its logit to the encoder's: a logistic regression on the "
              f"sublinear TF-IDF of the text's token unigrams and {lexical:,} hashed bigram buckets, fitted by "
              "scikit-learn on the train split; it reads every token the tokenizer gives, past the encoder's."
              if lexical else "")
    return [
        "## Model", "",
        f"BERT encoder: {config['num_hidden_layers']} layers, hidden {config['hidden_size']}, {heads[0]} heads, FFN "
        f"{config['intermediate_size']}, vocabulary {config['vocab_size']} SentencePiece pieces, "
        f"{config['max_position_embeddings']} tokens; {parameters:,} parameters. It reads the first "
        f"{config['max_position_embeddings']} tokens of a text.{branch}",
        training_sentence(training), threshold_sentence(threshold, training.get("policy") or {}, by_language), "",
    ]


def cut_sample(policy: dict) -> str:
    """The texts the cuts and their rates rest on (`eval.cut_folds`: the calibrate stage's too)."""
    folds = policy.get("cut_folds") or 0
    return (f"val and the train split, each train text scored by one of {folds} detectors trained without it "
            "(`eval.cut_folds`)" if folds else "val")


def labels_section(detector: dict, training: dict) -> list[str]:
    """The three labels: each cut, what it promises on val (sample size, upper bound) and what it gave on test."""
    rates = training.get("train", {}).get("label_rates") or {}
    if "human_threshold" not in detector or not rates:
        return []
    policy = training.get("policy") or {}
    lines = ["## Labels", "",
             f"AI above the AI cut ({detector['threshold']:.4f}); HUMAN at or below the HUMAN cut "
             f"({detector['human_threshold']:.4f}), under which about {policy.get('target_fnr', 0):.0%} of val's AI "
             "texts fall; UNSURE between them, and for a text in a script or language val had no human texts of, or "
             f"shorter than {policy.get('min_words', 0)} words. Languages with cuts of their own use them. Each rate "
             f"below was measured on {cut_sample(policy)}, with the upper end of its exact 95% interval: few texts "
             "make a wide interval, and the promise holds only for text like these.", "",
             "| cuts | human texts | AI label on human texts (≤ upper) | AI texts | HUMAN label on AI texts (≤ upper) |",
             "|---|---|---|---|---|"]
    for name, rate in rates.items():
        fpr, fnr = rate["ai_fpr"], rate["human_fnr"]
        lines.append(f"| {name} | {fpr['texts']} | {_number(fpr['rate'])} (≤ {fpr['upper_95']}) | {fnr['texts']} | "
                     f"{_number(fnr['rate'])} (≤ {fnr['upper_95']}) |")
    familiarity = training.get("train", {}).get("familiarity")
    if familiarity:
        own = ", ".join(f"{lang} {cut:.3f}" for lang, cut in familiarity.get("cut_by_language", {}).items())
        lines += ["", f"UNSURE also for a text unlike the training data: more of its words never seen in the train "
                  f"split than {familiarity['cut']:.3f} of them{f' ({own})' if own else ''}, a cut that flagged "
                  f"{_number(familiarity['val_share'])} of val (`eval.unfamiliar_share` asks at most "
                  f"{policy.get('unfamiliar_share', 0):.0%})."]
    shares = {key: detector.get(key) for key in ("human_labelled_ai", "human_labelled_unsure", "ai_labelled_human",
                                                 "ai_labelled_unsure", "unfamiliar")}
    lines += ["", "On test: " + ", ".join(f"{key.replace('_', ' ')} {_number(value)}" for key, value in shares.items())
              + ".", ""]
    return lines


def metrics_section(metrics: dict) -> list[str]:
    lines = ["## Test metrics", "", "| variant | size MB | ROC-AUC | F1 | accuracy | TPR@5%FPR | threshold |",
             "|---|---|---|---|---|---|---|"]
    for name in (*HEADLINE, "baseline"):
        if name in metrics:
            m = metrics[name]
            lines.append(f"| {name} | {_number(m.get('size_mb'))} | {_number(m['roc_auc'])} | {_number(m['f1'])} | "
                         f"{_number(m['accuracy'])} | {_number(m['tpr_at_5pct_fpr'])} | {_number(m['threshold'])} |")
    lines += ["", "All variants: `metrics/eval.json`; expected calibration error of the detector: "
              f"{_number(metrics['detector'].get('ece'))}.", ""]
    return lines


def slices_section(slices: dict) -> list[str]:
    lines = ["## Slices (detector, test)", "", "| slice | value | texts | ROC-AUC | accuracy | AI recall |",
             "|---|---|---|---|---|---|"]
    for field, values in slices.items():
        for value, m in values.items():
            lines.append(f"| {field} | {value} | {m['count']} | {_number(m['roc_auc'])} | {_number(m['accuracy'])} | "
                         f"{_number(m.get('recall'))} |")
    return [*lines, ""]


def robustness_section(normalization: str) -> list[str]:
    """How the detector meets edits made to evade it (`tinydetect.robustness`)."""
    if not normalization.startswith("tinydetect_robust"):
        return ["## Evasion", "",
                f"The tokenizer applies plain {normalization.upper()}: zero-width characters and look-alike letters of "
                "other scripts change the pieces the model reads, and one such edit per word can hide an AI text. "
                "Set `tokenizer.normalization: robust` (the default).", ""]
    folded = " and case folding" if normalization.endswith("_cf") else ""
    return [
        "## Evasion", "",
        f"Text is normalized inside the tokenizer before anything reads it (rules `{normalization}`, compiled into "
        "`tokenizer.model` and the precompiled map of `tokenizer.json`, which SentencePiece and Hugging Face "
        "`tokenizers` apply; transformers.js approximates that map by NFKC and does not): invisible format characters (zero-"
        "width spaces and joiners, bidi controls) are removed, whitespace runs collapse, NFKC"
        f"{folded}, and letters of other scripts that Unicode TR39 lists as look-alikes of Latin ones become those "
        "letters. Korean text is left as it is. Such edits therefore do not move the score.",
        "`tinydetect predict` reports beside each score whether the text needed this (`obfuscated`, with counts of "
        "invisible characters and mixed-script words). The score is not raised for it: the flag is a separate "
        "signal for a reviewer or a rule of the application (for example, send flagged texts to review). "
        "Misspellings, deleted articles, new paragraphs and paraphrase are not undone; `benchmarks/results/"
        "robustness_*.json` measure what they cost.", "",
    ]


def limits_section(splits: dict[str, Sequence[Record]]) -> list[str]:
    train = splits["train"]
    langs = sorted({record.lang for record in train})
    generators = sorted({generator(record) for record in train} - {"human"})
    return [
        "## Known limits", "",
        f"- Languages seen in training: {', '.join(langs)}. Others go through byte fallback, untested.",
        f"- Generators seen in training: {', '.join(generators) or 'none'}. Text from other models, newer models or "
        "other prompting may be missed; check the generator slices above before trusting a new source.",
        "- If the AI texts came from the offline n-gram backend (`offline` above), the detector learned to spot "
        "n-gram text: that shows the pipeline works, not that it catches LLM text.",
        "- Scores are for whole texts up to the token limit; short texts carry little signal.",
        "- A detector's output is evidence, not proof: do not act against a person on it alone.", "",
    ]


def render(splits: dict[str, Sequence[Record]], config: dict, metrics: dict, slices: dict, training: dict) -> str:
    """The card; `training` holds `pretrain` and `train` (their metrics files), `policy` (the eval params)
    and `normalization` (the tokenizer's rules)."""
    lines = ["# Model card: tinydetect detector", "",
             "Written by the `eval` stage from this run's data, params and metrics.", ""]
    lines += data_section(splits)
    detector = metrics["detector"]
    lines += model_section(config, detector["parameters"], detector["threshold"], training,
                           detector.get("thresholds_by_language"))
    lines += labels_section(detector, training)
    lines += metrics_section(metrics)
    lines += slices_section(slices)
    lines += robustness_section(training.get("normalization", "nfkc"))
    lines += limits_section(splits)
    return "\n".join(lines)
