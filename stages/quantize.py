"""quantize: models/{detector,pruned} -> models/quantized/{detector,pruned}_int8 (PyTorch dynamic INT8)."""

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.modeling.model import Detector
from tinydetect.compression.quantization import quantize_int8, save_int8
from tinydetect.core.records import load_file
from tinydetect.runtime.variants import check_parity, model_size_mb


def main() -> None:
    config = load_params()["quantize"]
    val_texts = [record.text for record in load_file("data/split/val.jsonl")]
    report = {}
    for source_name in ("detector", "pruned"):
        source = Detector.load(f"models/{source_name}")
        quantized = Detector(quantize_int8(source.model), source.tokenizer, source.threshold)
        name, folder = f"{source_name}_int8", f"models/quantized/{source_name}_int8"
        parity = check_parity(name, source_name, source.logits(val_texts), quantized.logits(val_texts),
                              source.threshold, config.max_label_disagreement)
        save_int8(quantized, folder)
        report[name] = {"size_mb": round(model_size_mb(folder), 3), **parity}
        print(f"{name}: {report[name]}")
    write_json("metrics/quantize.json", report)


if __name__ == "__main__":
    exit_on_user_error(main)
