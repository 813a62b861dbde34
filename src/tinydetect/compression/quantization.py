"""PyTorch dynamic INT8: `torch.ao.quantization.quantize_dynamic` on every Linear and Embedding.

Linear weights become per-tensor INT8 with activations quantized on the fly; the word
embedding table (the largest tensor) becomes per-row INT8, weight-only. The position and
token-type tables stay fp32: they are small, and torch's quantized embedding rejects the
non-contiguous index views BERT passes them. A quantized model cannot `save_pretrained`, so
its folder holds `config.json` + `model_int8.pt` (the quantized state dict): loading builds
the fp32 architecture from the config, quantizes it the same way, then loads the state.

Why not torchao, which torch 2.13 names as the successor of `torch.ao.quantization`: torchao
0.18 installs and runs here, but on this CPU its `Int8DynamicActivationInt8WeightConfig` has
no fast kernel. One 128-token TinyBERT-4 pass on one thread, same run: fp32 20.6 ms,
`quantize_dynamic` (fbgemm INT8) 8.7 ms, torchao 19.7 ms. Its tensor subclasses also need
`weights_only=False` to load. `quantize_dynamic` stays until torchao has a CPU INT8 path; it
warns that it is deprecated and still works in 2.13.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch.ao.quantization import default_dynamic_qconfig, float_qparams_weight_only_qconfig, quantize_dynamic
from transformers import BertConfig

from tinydetect.modeling.detector_folder import read_threshold, unreadable_model_is_a_user_error, write_detector_files
from tinydetect.modeling.model import Detector, DetectorModel
from tinydetect.modeling.tokenizer import DetectorTokenizer

INT8_FILE = "model_int8.pt"
_QCONFIG = {torch.nn.Linear: default_dynamic_qconfig, "bert.embeddings.word_embeddings": float_qparams_weight_only_qconfig}


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """An INT8 copy of `model`; the fp32 model is left as it was."""
    return quantize_dynamic(copy.deepcopy(model).eval(), _QCONFIG, dtype=torch.qint8)


def save_int8(detector: Detector, directory: str | Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    detector.model.config.save_pretrained(directory)
    torch.save(detector.model.state_dict(), directory / INT8_FILE)
    write_detector_files(directory, detector.tokenizer, detector.threshold)


def is_int8_folder(directory: str | Path) -> bool:
    return (Path(directory) / INT8_FILE).exists()


def load_int8(directory: str | Path) -> Detector:
    directory = Path(directory)
    threshold = read_threshold(directory)
    with unreadable_model_is_a_user_error(directory):
        model = quantize_int8(DetectorModel(BertConfig.from_pretrained(directory)))
        # quantized tensors are not plain tensors: weights_only loading cannot rebuild them
        model.load_state_dict(torch.load(directory / INT8_FILE, weights_only=False))
        tokenizer = DetectorTokenizer.load(directory)
    return Detector(model=model, tokenizer=tokenizer, threshold=threshold)
