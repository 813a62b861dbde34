"""coreml: models/{detector,pruned} -> models/coreml/{detector,pruned}/Detector_<variant>.mlpackage + metrics/coreml.json.

Beside the packages: tokenizer.model (SentencePiece), tokenizer.json (Hugging Face
`tokenizers`, same ids), labels.json and detector.json (the threshold).

    python stages/coreml.py          # what `dvc repro` runs
    python stages/coreml.py --test   # on macOS, also compare MLModel.predict with PyTorch on val texts
"""

import argparse
import gc
import platform
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from tinydetect.export import coreml as coreml_export
from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.evaluation.metrics import parity
from tinydetect.modeling.model import Detector, directory_size_mb, probability_ai, write_detector_files
from tinydetect.core.records import LABELS, load_file
from tinydetect.runtime.variants import PREFIXES, check_parity


def write_assets(source: Detector, folder: Path) -> None:
    write_detector_files(folder, source.tokenizer, source.threshold)
    source.tokenizer.to_hf_tokenizer().save(str(folder / "tokenizer.json"))
    write_json(folder / "labels.json", {"labels": list(LABELS), "positive_label": "AI", "logits": "index 1 is AI"})


def build(source: Detector, variant: str, block_size: int, calibration: list[dict]):
    """One package; each conversion is fresh and freed after, since coremltools can leak on big graphs."""
    fp16 = coreml_export.convert(source.model, source.tokenizer.max_length, coreml_export.TARGETS[variant])
    if variant == "fp16":
        return fp16
    if variant == "w8a8":
        return coreml_export.w8a8(fp16, calibration)
    return coreml_export.compress(fp16, variant, block_size)


def int32_inputs(source: Detector, texts: list[str]) -> list[dict[str, np.ndarray]]:
    encoded = source.tokenizer(texts)
    return [{name: encoded[name][i : i + 1].astype(np.int32) for name in coreml_export.INPUT_NAMES} for i in range(len(texts))]


def export_family(source_name: str, config, val_texts: list[str], val_labels: np.ndarray, test: bool) -> dict:
    source = Detector.load(f"models/{source_name}")
    folder = Path("models/coreml") / source_name
    write_assets(source, folder)
    block_size = coreml_export.int4_block_size(source.model, config.int4_max_block_size)
    source_logits = source.logits(val_texts)
    calibration = int32_inputs(source, val_texts[: config.calibration_texts])
    report = {}
    for variant in config.variants:
        name = f"{PREFIXES[source_name]}coreml_{variant}"
        reason = coreml_export.can_build(variant)
        if reason:
            print(f"{name}: skipped on {platform.system()}: {reason}")
            continue
        package = folder / f"Detector_{variant}.mlpackage"
        build(source, variant, block_size, calibration).save(str(package))
        gc.collect()
        program, _ = coreml_export.read_program(package)
        compressed = coreml_export.check_compressed(program, variant)
        model, _ = coreml_export.with_package_weights(source.model, package)
        logits = Detector(model, source.tokenizer, source.threshold).logits(val_texts)
        result = check_parity(name, source_name, source_logits, logits, source.threshold, config.max_label_disagreement)
        report[name] = {
            "size_mb": round(directory_size_mb(package), 3),
            "compressed_linear_weights": compressed,
            "int4_block_size": block_size if variant == "int4" else None,
            **result,
            "val_roc_auc": round(float(roc_auc_score(val_labels, probability_ai(logits))), 6),
        }
        if test:
            report[name]["predict"] = predict_parity(package, source, val_texts[:16])
        print(f"{name}: {report[name]}")
    return report


def predict_parity(package: Path, source: Detector, texts: list[str]) -> dict:
    """macOS only: the real Core ML runtime against PyTorch on a few texts."""
    import coremltools as ct

    model = ct.models.MLModel(str(package))
    logits = np.concatenate([model.predict(inputs)["logits"] for inputs in int32_inputs(source, texts)])
    return parity(source.logits(texts), logits, source.threshold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test", action="store_true", help="macOS: also run MLModel.predict and compare")
    args = parser.parse_args()
    if args.test and platform.system() != "Darwin":
        print("--test: MLModel.predict runs only on macOS; the MIL read-back parity below still runs")
    config = load_params()["coreml"]
    val = load_file("data/split/val.jsonl")
    val_texts, val_labels = [r.text for r in val], np.array([r.label_int for r in val])
    report = {}
    for source_name in PREFIXES:
        report |= export_family(source_name, config, val_texts, val_labels, args.test and platform.system() == "Darwin")
    write_json("metrics/coreml.json", report)


if __name__ == "__main__":
    exit_on_user_error(main)
