"""web: models/<web.source> -> web/public/model/ (backbone, head, tokenizer, settings) + metrics/web.json.

The page's assets (tinydetect.web.assets), scored on val as the page scores them (`WebScorer`: tokenizer.json, one
text at a time, the head in NumPy); their labels must agree with the source model's as every exported variant's do.
Named web_assets.py, not web.py: the stage script should not look like the `tinydetect.web` package.
"""

import gzip
from pathlib import Path

import numpy as np

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.core.records import load_file
from tinydetect.decision.probability import probability_ai
from tinydetect.evaluation.parity import check_parity
from tinydetect.modeling.model import Detector
from tinydetect.runtime.variants import variant_named
from tinydetect.web.assets import write_assets
from tinydetect.web.scorer import WebScorer

WEB_MODEL = Path("web/public/model")


def sizes(folder: Path) -> dict[str, float]:
    """Each file's MB, raw and gzip-compressed (what a server sends), and the totals."""
    raw = {path.name: path.stat().st_size for path in sorted(folder.iterdir())}
    packed = {path.name: len(gzip.compress(path.read_bytes(), mtime=0)) for path in sorted(folder.iterdir())}
    megabytes = lambda count: round(count / 1e6, 3)  # noqa: E731
    return {**{f"{name}_mb": megabytes(count) for name, count in raw.items()},
            "total_mb": megabytes(sum(raw.values())), "total_gzip_mb": megabytes(sum(packed.values()))}


def main() -> None:
    params = load_params("web", "quantize")
    config = params["web"]
    source = Detector.load(variant_named(config.source).path)
    train_texts = [record.text for record in load_file("data/split/train.jsonl")]
    write_assets(source, WEB_MODEL, config.onnx_kind, params["quantize"].fuse_skip_layer_norm, train_texts, config)
    val_texts = [record.text for record in load_file("data/split/val.jsonl")]
    source_logits, logits = source.logits(val_texts), WebScorer(WEB_MODEL).logits(val_texts)
    parity = check_parity(f"web ({config.source}, {config.onnx_kind})", config.source, source_logits, logits,
                          source.threshold.for_texts(val_texts), config.max_label_disagreement,
                          "web.max_label_disagreement", config.label_margin)
    probability_gap = float(np.abs(probability_ai(source_logits) - probability_ai(logits)).max())
    report = {"source": config.source, "onnx_kind": config.onnx_kind, **parity,
              "max_probability_diff": round(probability_gap, 6), "size": sizes(WEB_MODEL)}
    write_json("metrics/web.json", report)
    print(f"{WEB_MODEL}: {report}")


if __name__ == "__main__":
    exit_on_user_error(main)
