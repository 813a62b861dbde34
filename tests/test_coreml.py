"""Core ML export of a tiny detector, checked on Linux by reading each package's MIL program back."""

import os
import platform
import subprocess
import sys

import numpy as np
import pytest
import torch
from coremltools.converters.mil.mil import types
from coremltools.proto import FeatureTypes_pb2

from tinydetect.core.config import ModelConfig
from tinydetect.core.errors import UserError
from tinydetect.export import coreml as coreml_export
from tinydetect.modeling.model import build_model

TINY = ModelConfig(lexical_buckets=0, num_hidden_layers=2, hidden_size=48, num_attention_heads=4, intermediate_size=96, max_length=32)
COMPRESSION_OP = {"int8": "constexpr_affine_dequantize", "int4": "constexpr_blockwise_shift_scale",
                  "palettized4": "constexpr_lut_to_dense"}
TOLERANCE = {"fp16": 1e-2, "int8": 0.05, "int4": 0.2, "palettized4": 0.2}


@pytest.fixture(scope="module")
def model():
    return build_model(TINY, vocab_size=600, seed=0).eval()


@pytest.fixture(scope="module")
def packages(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("coreml")
    block = coreml_export.int4_block_size(model)
    paths = {}
    for variant in ("fp16", "int8", "int4", "palettized4"):
        fp16 = coreml_export.convert(model, TINY.max_length, coreml_export.TARGETS[variant])
        package = fp16 if variant == "fp16" else coreml_export.compress(fp16, variant, block)
        paths[variant] = folder / f"Detector_{variant}.mlpackage"
        package.save(str(paths[variant]))
    return paths


def inputs(count=4):
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, 600, (count, TINY.max_length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 12:] = 0
    return input_ids, attention_mask


def test_block_size_divides_every_width(model):
    assert coreml_export.int4_block_size(model) == 24  # widths 48 and 96
    tinybert4 = build_model(ModelConfig(lexical_buckets=0), vocab_size=1000, seed=0)
    assert coreml_export.int4_block_size(tinybert4) == 24  # 312 and 1200: 32 would skip most weights
    with pytest.raises(UserError, match=r"no block size from 8 to 32 divides every linear input width \[48, 52\]"):
        coreml_export.int4_block_size(torch.nn.Sequential(torch.nn.Linear(48, 52), torch.nn.Linear(52, 2)))


@pytest.mark.parametrize("variant", ["int8", "int4", "palettized4"])
def test_every_linear_weight_is_compressed_with_the_expected_op(packages, variant):
    program, _ = coreml_export.read_program(packages[variant])
    assert coreml_export.check_compressed(program, variant) == 2 * 6 + 2  # 6 per layer, pooler, classifier
    assert coreml_export.op_counts(program)[COMPRESSION_OP[variant]] >= 14
    if variant == "int4":
        ops = [op for op in program.functions["main"].operations if op.op_type == COMPRESSION_OP["int4"]]
        assert all(op.inputs["data"].dtype == types.int4 for op in ops)


@pytest.mark.parametrize("variant", ["fp16", "int8", "int4", "palettized4"])
def test_dequantized_weights_reproduce_pytorch(model, packages, variant):
    restored, replaced = coreml_export.with_package_weights(model, packages[variant])
    assert replaced >= len(list(model.state_dict())) - 3  # all but constant-folded tables
    input_ids, attention_mask = inputs()
    with torch.no_grad():
        expected = model(input_ids=input_ids, attention_mask=attention_mask).logits
        actual = restored(input_ids=input_ids, attention_mask=attention_mask).logits
    difference = float((expected - actual).abs().max())
    assert difference < TOLERANCE[variant]
    if variant != "fp16":
        assert difference > 0  # the weights really are the package's, not a copy of PyTorch's


def test_io_names_and_shapes_match_the_swift_example(packages):
    _, spec = coreml_export.read_program(packages["int4"])
    described = {feature.name: feature.type.multiArrayType for feature in spec.description.input}
    assert list(described) == ["input_ids", "attention_mask"]
    for array in described.values():
        assert list(array.shape) == [1, TINY.max_length] and array.dataType == FeatureTypes_pb2.ArrayFeatureType.INT32
    assert [feature.name for feature in spec.description.output] == ["logits"]
    assert spec.specificationVersion >= 9  # iOS 18 / macOS 15: needed for INT4 per block


@pytest.mark.skipif(platform.system() == "Darwin", reason="on macOS W8A8 is built")
def test_w8a8_says_why_it_is_not_built_here():
    assert "macOS" in coreml_export.can_build("w8a8")
    assert coreml_export.can_build("int4") is None


def test_exportable_wrapper_equals_the_hf_model(model):
    input_ids, attention_mask = inputs()
    with torch.no_grad():
        wrapped = coreml_export.CoreMLDetector(model)(input_ids.int(), attention_mask.int())
        reference = model(input_ids=input_ids, attention_mask=attention_mask).logits
    np.testing.assert_allclose(wrapped.numpy(), reference.numpy(), atol=1e-5)


SAVE_ONE_PACKAGE = """
import sys
from tinydetect.core.config import ModelConfig
from tinydetect.export import coreml
from tinydetect.modeling.model import build_model
model = build_model(ModelConfig(lexical_buckets=0, num_hidden_layers=1, hidden_size=48, num_attention_heads=4, intermediate_size=96,
                                max_length=32), 300, seed=0).eval()
coreml.save_reproducibly(coreml.compress(coreml.convert(model, 32, coreml.TARGETS["int4"]), "int4", 16), sys.argv[1])
"""


def test_packages_are_byte_identical_across_runs(tmp_path):
    """Before: random UUIDs in Manifest.json and the spec's map order made every package (and dvc.lock) differ."""
    for run, hash_seed in ((1, "1"), (2, "2")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", SAVE_ONE_PACKAGE, str(tmp_path / f"run{run}.mlpackage")], env=env,
                       check=True, capture_output=True)
    files = sorted(path.relative_to(tmp_path / "run1.mlpackage") for path in (tmp_path / "run1.mlpackage").rglob("*")
                   if path.is_file())
    assert {str(path) for path in files} >= {"Manifest.json", "Data/com.apple.CoreML/model.mlmodel"}
    for relative in files:
        assert (tmp_path / "run1.mlpackage" / relative).read_bytes() == (tmp_path / "run2.mlpackage" / relative).read_bytes(), relative
    program, _ = coreml_export.read_program(tmp_path / "run1.mlpackage")  # and Core ML tools still read it
    assert coreml_export.check_compressed(program, "int4") > 0
