"""The registry: every model variant the pipeline makes, once.

A variant is a name (the key of `metrics/eval.json`), the fp32 PyTorch model it was made
from (its *source*), its format, what the making stage builds (its *kind*) and where it
lives. Stages ask the registry which variants they make and where to write them; `eval`,
the plots, the model card, the review report and the benchmarks ask it what to score. A new
variant is one `VariantSpec` below; a new source model is one entry of `SOURCES` (and of
`vars.sources` in `dvc.yaml`, which a test keeps equal).

>>> variant_named("pruned_onnx_int8").path
'models/onnx/pruned/model_int8.onnx'
>>> [v.name for v in variants_made_by("quantize", "detector")]
['detector_int8']
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from tinydetect.core.config import COREML_KINDS
from tinydetect.core.errors import UserError
from tinydetect.core.files import size_mb

# fp32 PyTorch models, each in models/<source>/, from which every other variant is made
SOURCES = ("detector", "pruned")
# the stage that writes each source folder
SOURCE_STAGES = {"detector": "train", "pruned": "prune"}
# the variants a reader sees first: the model card, the review report's headline, the ROC picture
HEADLINE = ("detector", "detector_int8", "onnx_int8", "onnx_int4", "coreml_int4", "pruned", "pruned_onnx_int8",
            "pruned_coreml_int4")


@dataclass(frozen=True)
class VariantSpec:
    """One kind of variant, made once per source model."""

    stage: str  # the dvc stage that makes it
    format: str  # how it is loaded: "torch", "torch_int8", "onnx" or "coreml"
    kind: str  # what the stage builds: "fp32", "int8", "fixed", "int4", "fp16", "palettized4", ...
    name: str  # name pattern; {prefix} is "" for the detector, "pruned_" for the pruned model
    path: str  # path pattern; {source} is the source's name


SPECS = (
    VariantSpec("quantize", "torch_int8", "int8", "{source}_int8", "models/quantized/{source}_int8"),
    VariantSpec("onnx", "onnx", "fp32", "{prefix}onnx", "models/onnx/{source}/model.onnx"),
    VariantSpec("onnx", "onnx", "fixed", "{prefix}onnx_fixed", "models/onnx/{source}/model_fixed.onnx"),
    VariantSpec("onnx", "onnx", "int8", "{prefix}onnx_int8", "models/onnx/{source}/model_int8.onnx"),
    VariantSpec("onnx", "onnx", "int4", "{prefix}onnx_int4", "models/onnx/{source}/model_int4.onnx"),
    *(
        VariantSpec("coreml", "coreml", kind, f"{{prefix}}coreml_{kind}", f"models/coreml/{{source}}/Detector_{kind}.mlpackage")
        for kind in COREML_KINDS
    ),
)


@dataclass(frozen=True)
class Variant:
    name: str
    source: str | None  # the source model's variant name; None for a source itself
    format: str
    kind: str
    path: str
    stage: str

    @property
    def folder(self) -> str:
        """The folder holding the variant and its tokenizer assets."""
        return self.path if self.format in ("torch", "torch_int8") else str(Path(self.path).parent)


def _prefix(source: str) -> str:
    return "" if source == "detector" else f"{source}_"


def family(source: str) -> list[Variant]:
    """A source model and every variant made from it."""
    fields = {"source": source, "prefix": _prefix(source)}
    made = [
        Variant(spec.name.format(**fields), source, spec.format, spec.kind, spec.path.format(**fields), spec.stage)
        for spec in SPECS
    ]
    return [Variant(source, None, "torch", "fp32", f"models/{source}", SOURCE_STAGES[source]), *made]


VARIANTS: tuple[Variant, ...] = tuple(variant for source in SOURCES for variant in family(source))


def variant_named(name: str) -> Variant:
    for variant in VARIANTS:
        if variant.name == name:
            return variant
    raise UserError(f"no variant named {name!r}; known: {', '.join(v.name for v in VARIANTS)}")


def variants_made_by(stage: str, source: str) -> list[Variant]:
    """What one instance of a matrix stage (`quantize@pruned`, `onnx@detector`, ...) writes."""
    if source not in SOURCES:
        raise UserError(f"unknown source model {source!r}; known: {', '.join(SOURCES)}")
    return [variant for variant in VARIANTS if variant.stage == stage and variant.source == source]


def format_of(path: str | Path) -> str:
    """How to load a variant found at `path`, from what is there (it need not be in the registry)."""
    path = Path(path)
    if path.suffix == ".mlpackage":
        return "coreml"
    if path.suffix == ".onnx":
        return "onnx"
    if path.is_dir() and (path / "model_int8.pt").exists():
        return "torch_int8"
    if path.is_dir():
        return "torch"
    raise UserError(f"{path}: neither a detector folder, an .onnx file nor an .mlpackage; run `make repro` or pass --model")


def model_size_mb(path: str | Path) -> float:
    """Bytes a variant ships, in MB: the .onnx file, the whole .mlpackage, or a PyTorch folder's weights file."""
    path = Path(path)
    if path.is_dir() and path.suffix != ".mlpackage":
        return sum(size_mb(item) for item in path.iterdir() if item.suffix in {".safetensors", ".pt", ".bin"})
    return size_mb(path)


def coreml_source_folder(package: str | Path) -> Path:
    """The PyTorch folder a pipeline-made package was converted from: models/coreml/<source>/X -> models/<source>."""
    package = Path(package)
    return package.parent.parent.parent / package.parent.name


def source_parser(description: str) -> argparse.ArgumentParser:
    """The command line of a matrix stage: `python stages/onnx.py pruned` (dvc.yaml runs one per source)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", choices=SOURCES, help="the source model whose variants to make")
    return parser
