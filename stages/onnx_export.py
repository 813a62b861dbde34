"""onnx@<source>: models/<source> -> models/onnx/<source>/ (fp32 fixed and dynamic, INT8, INT4) + metrics/onnx/<source>.json.

Named onnx_export.py, not onnx.py: a script beside the `onnx` package would shadow it.
"""

from pathlib import Path

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.core.records import load_file
from tinydetect.evaluation.parity import check_parity
from tinydetect.export.onnx import export_variants
from tinydetect.modeling.detector_folder import write_detector_files
from tinydetect.modeling.model import Detector
from tinydetect.runtime.onnx_scorer import OnnxScorer
from tinydetect.runtime.variants import model_size_mb, source_parser, variant_named, variants_made_by


def main() -> None:
    source_name = source_parser(__doc__).parse_args().source
    config = load_params("quantize")["quantize"]
    val_texts = [record.text for record in load_file("data/split/val.jsonl")]
    source = Detector.load(variant_named(source_name).path)
    variants = variants_made_by("onnx", source_name)
    folder = Path(variants[0].folder)
    write_detector_files(folder, source.tokenizer, source.threshold)
    paths = {variant.kind: Path(variant.path) for variant in variants}
    report = {"export": export_variants(source.model, paths, source.tokenizer.max_length, config.int4_block_size,
                                        config.fuse_skip_layer_norm, config.dynamic_length)}
    source_logits = source.logits(val_texts)
    for variant in variants:
        logits = OnnxScorer(variant.path).logits(val_texts)
        parity = check_parity(variant.name, source_name, source_logits, logits, source.threshold.for_texts(val_texts),
                              config.max_label_disagreement, "quantize.max_label_disagreement", config.label_margin)
        report[variant.name] = {"size_mb": round(model_size_mb(variant.path), 3), **parity}
        print(f"{variant.name}: {report[variant.name]}")
    write_json(f"metrics/onnx/{source_name}.json", report)


if __name__ == "__main__":
    exit_on_user_error(main)
