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


def model_section(config: dict, parameters: int, threshold: float) -> list[str]:
    heads = config.get("layer_heads") or [config["num_attention_heads"]] * config["num_hidden_layers"]
    return [
        "## Model", "",
        f"BERT encoder trained from scratch (no pre-trained weights): {config['num_hidden_layers']} layers, hidden "
        f"{config['hidden_size']}, {heads[0]} heads, FFN {config['intermediate_size']}, vocabulary "
        f"{config['vocab_size']} SentencePiece pieces, {config['max_position_embeddings']} tokens; "
        f"{parameters:,} parameters. It reads the first {config['max_position_embeddings']} tokens of a text.",
        f"Decision threshold on P(AI), chosen for the best F1 on val: {threshold:.4f}.", "",
    ]


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


def render(splits: dict[str, Sequence[Record]], config: dict, metrics: dict, slices: dict) -> str:
    lines = ["# Model card: tinydetect detector", "",
             "Written by the `eval` stage from this run's data, params and metrics.", ""]
    lines += data_section(splits)
    lines += model_section(config, metrics["detector"]["parameters"], metrics["detector"]["threshold"])
    lines += metrics_section(metrics)
    lines += slices_section(slices)
    lines += limits_section(splits)
    return "\n".join(lines)
