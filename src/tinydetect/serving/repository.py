"""Triton model repositories: `config.pbtxt` written and read back through Triton's own model-config protobuf.

Two repositories: the one `tinydetect serve` starts (a Python-backend model taking texts, `triton_model.py`) and the
one the triton stage exports for a stock Triton server with the ONNX Runtime backend (`input_ids`/`attention_mask`
in, `logits` out; tokenization is the client's, with the tokenizer assets shipped beside it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as triton_config

from tinydetect.core.config import ServeConfig
from tinydetect.core.errors import UserError, first_line
from tinydetect.core.files import write_text
from tinydetect.runtime.onnx_scorer import onnx_session
from tinydetect.runtime.variants import Variant, variants_made_by

CONFIG_FILE = "config.pbtxt"
SERVED_MODEL = "tinydetect"
# ONNX Runtime's names of tensor types -> Triton's; the exported graphs use these three only
ORT_TO_TRITON = {"tensor(int64)": triton_config.TYPE_INT64, "tensor(float)": triton_config.TYPE_FP32,
                 "tensor(int32)": triton_config.TYPE_INT32}


def served_variant(config: ServeConfig) -> Variant:
    """The registry's ONNX variant that `serve.source` and `serve.onnx_kind` name (`pruned_onnx_int8`, ...)."""
    return next(variant for variant in variants_made_by("onnx", config.source) if variant.kind == config.onnx_kind)


def _batching(model: triton_config.ModelConfig, config: ServeConfig) -> None:
    model.max_batch_size = config.max_batch_size
    model.dynamic_batching.max_queue_delay_microseconds = config.max_queue_delay_us
    group = model.instance_group.add()
    group.count = config.instances
    group.kind = triton_config.ModelInstanceGroup.KIND_CPU


def _tensor(tensors, name: str, data_type: int, dims: list[int]) -> None:
    tensor = tensors.add()
    tensor.name, tensor.data_type = name, data_type
    tensor.dims.extend(dims)


def text_model_config(model_path: Path, config: ServeConfig) -> triton_config.ModelConfig:
    """The served model: BYTES `text` [1] in, `p_ai` FP32 [1], `label` BYTES [1] (AI, HUMAN or UNSURE) and `reason`
    BYTES [1] (why UNSURE, else empty) out, per text."""
    model = triton_config.ModelConfig(name=SERVED_MODEL, backend="python")
    _batching(model, config)
    _tensor(model.input, "text", triton_config.TYPE_STRING, [1])
    _tensor(model.output, "p_ai", triton_config.TYPE_FP32, [1])
    _tensor(model.output, "label", triton_config.TYPE_STRING, [1])
    _tensor(model.output, "reason", triton_config.TYPE_STRING, [1])
    settings = {"model": str(model_path.resolve()), "threads": str(config.threads),
                "max_text_bytes": str(config.max_text_bytes)}
    for key, value in settings.items():
        model.parameters[key].string_value = value
    return model


def onnx_model_config(name: str, onnx_path: Path, config: ServeConfig) -> triton_config.ModelConfig:
    """A stock server's ONNX Runtime backend config, its tensors as ONNX Runtime reads the graph (batch axis dropped)."""
    model = triton_config.ModelConfig(name=name, backend="onnxruntime", default_model_filename="model.onnx")
    _batching(model, config)
    session = onnx_session(onnx_path)
    for tensors, values in ((model.input, session.get_inputs()), (model.output, session.get_outputs())):
        for value in values:
            dims = [dim if isinstance(dim, int) else -1 for dim in value.shape[1:]]
            _tensor(tensors, value.name, ORT_TO_TRITON[value.type], dims)
    if config.threads:
        model.parameters["intra_op_thread_count"].string_value = str(config.threads)
        model.parameters["inter_op_thread_count"].string_value = "1"
    return model


def write_config(model: triton_config.ModelConfig, folder: Path) -> Path:
    path = folder / CONFIG_FILE
    write_text(path, text_format.MessageToString(model))
    return path


def read_config(path: Path) -> triton_config.ModelConfig:
    """Parse a `config.pbtxt` as Triton does; a field it does not know or a bad value fails naming the file."""
    try:
        return text_format.Parse(path.read_text(encoding="utf-8"), triton_config.ModelConfig())
    except (OSError, text_format.ParseError) as error:
        raise UserError(f"{path}: not a Triton model config ({first_line(error)})") from None


def export_onnx_repository(variant: Variant, repository: Path, config: ServeConfig) -> Path:
    """`<repository>/<variant>/config.pbtxt` and `1/model.onnx` with the tokenizer assets and detector.json beside it
    (Triton loads only model.onnx from the version folder; a client, or `tinydetect predict --model`, reads the rest)."""
    model_folder = repository / variant.name
    if model_folder.exists():
        shutil.rmtree(model_folder)
    (model_folder / "1").mkdir(parents=True)
    shutil.copyfile(variant.path, model_folder / "1" / "model.onnx")
    for asset in Path(variant.folder).iterdir():
        if asset.suffix != ".onnx":
            shutil.copyfile(asset, model_folder / "1" / asset.name)
    return write_config(onnx_model_config(variant.name, model_folder / "1" / "model.onnx", config), model_folder)
