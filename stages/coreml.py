"""coreml@<source>: models/<source> -> models/coreml/<source>/Detector_<kind>.mlpackage + metrics/coreml/<source>.json.

Beside the packages: tokenizer.model (SentencePiece), tokenizer.json (Hugging Face
`tokenizers`, same ids), labels.json and detector.json (the threshold).

    python stages/coreml.py pruned          # what `dvc repro` runs, once per source model
    python stages/coreml.py pruned --test   # on macOS, also compare MLModel.predict with PyTorch on val texts
"""

import gc
import platform
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import size_mb, write_json
from tinydetect.core.records import LABELS, load_file
from tinydetect.decision.probability import probability_ai
from tinydetect.evaluation.parity import check_parity, parity
from tinydetect.export import coreml as coreml_export
from tinydetect.export.traceable import INPUT_NAMES
from tinydetect.modeling.detector_folder import write_detector_files
from tinydetect.modeling.model import Detector
from tinydetect.runtime.variants import Variant, source_parser, variant_named, variants_made_by


def write_assets(source: Detector, folder: Path) -> None:
    write_detector_files(folder, source.tokenizer, source.threshold)
    source.tokenizer.to_hf_tokenizer().save(str(folder / "tokenizer.json"))
    write_json(folder / "labels.json", {"labels": list(LABELS), "positive_label": "AI", "logits": "index 1 is AI"})


def build(source: Detector, kind: str, block_size: int, calibration: list[dict]):
    """One package; each conversion is fresh and freed after, since coremltools can leak on big graphs."""
    fp16 = coreml_export.convert(source.model, source.tokenizer.max_length, coreml_export.TARGETS[kind])
    if kind == "fp16":
        return fp16
    if kind == "w8a8":
        return coreml_export.w8a8(fp16, calibration)
    return coreml_export.compress(fp16, kind, block_size)


def int32_inputs(source: Detector, texts: list[str]) -> list[dict[str, np.ndarray]]:
    encoded = source.tokenizer(texts)
    return [{name: encoded[name][i : i + 1].astype(np.int32) for name in INPUT_NAMES} for i in range(len(texts))]


def export_one(variant: Variant, source: Detector, block_size: int, calibration: list[dict], config,
               val_texts: list[str], val_labels: np.ndarray, source_logits: np.ndarray) -> dict:
    package = Path(variant.path)
    coreml_export.save_reproducibly(build(source, variant.kind, block_size, calibration), package)
    gc.collect()
    program, _ = coreml_export.read_program(package)
    compressed = coreml_export.check_compressed(program, variant.kind)
    model, _ = coreml_export.with_package_weights(source.model, package)
    logits = Detector(model, source.tokenizer, source.threshold).logits(val_texts)
    result = check_parity(variant.name, variant.source, source_logits, logits, source.threshold.for_texts(val_texts),
                          config.max_label_disagreement, "coreml.max_label_disagreement", config.label_margin)
    return {
        "size_mb": round(size_mb(package), 3),
        "compressed_linear_weights": compressed,
        "int4_block_size": block_size if variant.kind == "int4" else None,
        **result,
        "val_roc_auc": round(float(roc_auc_score(val_labels, probability_ai(logits))), 6),
    }


def predict_parity(package: Path, source: Detector, texts: list[str]) -> dict:
    """macOS only: the real Core ML runtime against PyTorch on a few texts."""
    import coremltools as ct

    model = ct.models.MLModel(str(package))
    logits = np.concatenate([model.predict(inputs)["logits"] for inputs in int32_inputs(source, texts)])
    return parity(source.logits(texts), logits, source.threshold.for_texts(texts))


def main() -> None:
    parser = source_parser(__doc__)
    parser.add_argument("--test", action="store_true", help="macOS: also run MLModel.predict and compare")
    args = parser.parse_args()
    on_mac = platform.system() == "Darwin"
    if args.test and not on_mac:
        print("--test: MLModel.predict runs only on macOS; the MIL read-back parity below still runs")
    config = load_params("coreml")["coreml"]
    val = load_file("data/split/val.jsonl")
    val_texts, val_labels = [r.text for r in val], np.array([r.label_int for r in val])
    source = Detector.load(variant_named(args.source).path)
    variants = [v for v in variants_made_by("coreml", args.source) if v.kind in config.kinds]
    write_assets(source, Path(variants_made_by("coreml", args.source)[0].folder))
    block_size = coreml_export.int4_block_size(source.model, config.int4_max_block_size)
    source_logits = source.logits(val_texts)
    calibration = int32_inputs(source, val_texts[: config.calibration_texts])
    report = {}
    for variant in variants:
        reason = coreml_export.can_build(variant.kind)
        if reason:
            print(f"{variant.name}: skipped on {platform.system()}: {reason}")
            continue
        report[variant.name] = export_one(variant, source, block_size, calibration, config, val_texts, val_labels,
                                          source_logits)
        if args.test and on_mac:
            report[variant.name]["predict"] = predict_parity(Path(variant.path), source, val_texts[:16])
        print(f"{variant.name}: {report[variant.name]}")
    write_json(f"metrics/coreml/{args.source}.json", report)


if __name__ == "__main__":
    exit_on_user_error(main)
