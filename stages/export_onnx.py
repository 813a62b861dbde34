"""onnx stage: models/{detector,pruned} -> models/onnx/{detector,pruned}/ (fp32 fixed and dynamic, INT8, INT4).

Named export_onnx.py, not onnx.py: a script beside the `onnx` package would shadow it.
"""

import tempfile
from pathlib import Path

from tinydetect.export import onnx as onnx_export
from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.modeling.model import Detector, write_detector_files
from tinydetect.core.records import load_file
from tinydetect.runtime.variants import PREFIXES, check_parity, model_size_mb


def export_family(source: Detector, folder: Path, block_size: int) -> dict:
    """All four ONNX files of one source model; returns what the optimizer and INT4 pass did."""
    config = source.model.config
    heads = source.model.bert.encoder.layer[0].attention.self.num_attention_heads
    write_detector_files(folder, source.tokenizer, source.threshold)
    onnx_export.export(source.model, folder / onnx_export.FIXED_FILE, source.tokenizer.max_length, dynamic_batch=False)
    with tempfile.TemporaryDirectory() as scratch:
        plain = Path(scratch) / "plain.onnx"
        onnx_export.export(source.model, plain, source.tokenizer.max_length, dynamic_batch=True)
        head_size = config.hidden_size // config.num_attention_heads
        fused = onnx_export.optimize(plain, folder / onnx_export.FP32_FILE, heads, head_size, config.hidden_size)
        int4_ops = onnx_export.quantize_int4(plain, folder / onnx_export.INT4_FILE, block_size)
    onnx_export.quantize_int8(folder / onnx_export.FP32_FILE, folder / onnx_export.INT8_FILE)
    return {"fused_ops": fused, "int4_ops": int4_ops}


def main() -> None:
    config = load_params()["quantize"]
    val_texts = [record.text for record in load_file("data/split/val.jsonl")]
    report = {}
    for source_name, prefix in PREFIXES.items():
        source = Detector.load(f"models/{source_name}")
        folder = Path("models/onnx") / source_name
        report[f"{prefix}onnx_export"] = export_family(source, folder, config.int4_block_size)
        source_logits = source.logits(val_texts)
        for file_name in (onnx_export.FP32_FILE, onnx_export.FIXED_FILE, onnx_export.INT8_FILE, onnx_export.INT4_FILE):
            name = prefix + "onnx" + file_name.removeprefix("model").removesuffix(".onnx")
            variant = onnx_export.OnnxDetector(folder / file_name)
            parity = check_parity(name, source_name, source_logits, variant.logits(val_texts),
                                  source.threshold, config.max_label_disagreement)
            report[name] = {"size_mb": round(model_size_mb(folder / file_name), 3), **parity}
            print(f"{name}: {report[name]}")
    write_json("metrics/onnx.json", report)


if __name__ == "__main__":
    exit_on_user_error(main)
