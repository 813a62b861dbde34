"""Hugging Face Optimum's ONNX Runtime path for a `BertForSequenceClassification` folder, run in `.venv-optimum`.

    .venv-optimum/bin/python benchmarks/optimum_export.py ENCODER_FOLDER OUT_FOLDER

What a user following Optimum's documentation gets: `ORTModelForSequenceClassification.from_pretrained(export=True)`,
then `ORTQuantizer` with `AutoQuantizationConfig.avx512_vnni` (dynamic, per tensor: the config for this CPU), and
separately `ORTOptimizer` at level 2 (basic + extended + transformer fusions). Optimum's own optimize-then-quantize
recipe fails with ONNX Runtime 1.31 (its quantizer cannot type the fused ops' outputs and Optimum offers no way to
pass `DefaultTensorType`); the attempt is made and its error kept in the notes, and the INT8 graph comes from the
exported graph (ONNX Runtime then fuses at load). Prints one JSON line: the graphs' paths and the notes.
Imports nothing from tinydetect: this venv does not have it.
"""

import json
import sys
from pathlib import Path

from optimum.onnxruntime import ORTModelForSequenceClassification, ORTOptimizer, ORTQuantizer
from optimum.onnxruntime.configuration import AutoQuantizationConfig, OptimizationConfig


def main() -> None:
    source, out = sys.argv[1], Path(sys.argv[2])
    vnni = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=False)
    model = ORTModelForSequenceClassification.from_pretrained(source, export=True)
    model.save_pretrained(out / "exported")
    ORTQuantizer.from_pretrained(model).quantize(save_dir=out / "quantized", quantization_config=vnni)
    ORTOptimizer.from_pretrained(model).optimize(save_dir=out / "optimized",
                                                 optimization_config=OptimizationConfig(optimization_level=2))
    notes = []
    try:
        ORTQuantizer.from_pretrained(out / "optimized", file_name="model_optimized.onnx").quantize(
            save_dir=out / "optimized_quantized", quantization_config=vnni)
        notes.append("optimize (O2) then quantize worked")
    except RuntimeError as error:
        notes.append(f"optimize (O2) then quantize failed: {str(error).splitlines()[0][:300]}")
    int8 = next((out / "quantized").glob("*.onnx"))
    print(json.dumps({"int8": str(int8), "fp32": str(out / "optimized" / "model_optimized.onnx"), "notes": notes}))


if __name__ == "__main__":
    main()
