"""quantize@<source>: models/<source> -> models/quantized/<source>_int8 (PyTorch dynamic INT8) + metrics/quantize/<source>.json."""

from tinydetect.compression.quantization import quantize_int8, save_int8
from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.core.records import load_file
from tinydetect.evaluation.parity import check_parity
from tinydetect.modeling.model import Detector
from tinydetect.runtime.variants import model_size_mb, source_parser, variant_named, variants_made_by


def main() -> None:
    source_name = source_parser(__doc__).parse_args().source
    config = load_params("quantize")["quantize"]
    val_texts = [record.text for record in load_file("data/split/val.jsonl")]
    source = Detector.load(variant_named(source_name).path)
    source_logits = source.logits(val_texts)
    report = {}
    for variant in variants_made_by("quantize", source_name):
        quantized = Detector(quantize_int8(source.model), source.tokenizer, source.threshold)
        parity = check_parity(variant.name, source_name, source_logits, quantized.logits(val_texts),
                              source.threshold.for_texts(val_texts),
                              config.max_label_disagreement, "quantize.max_label_disagreement", config.label_margin)
        save_int8(quantized, variant.path)
        report[variant.name] = {"size_mb": round(model_size_mb(variant.path), 3), **parity}
        print(f"{variant.name}: {report[variant.name]}")
    write_json(f"metrics/quantize/{source_name}.json", report)


if __name__ == "__main__":
    exit_on_user_error(main)
