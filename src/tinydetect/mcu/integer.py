"""The exported models as the C code runs them, and their Python references.

Two kinds of export:

- **float**: float32 weights and biases; each output is `bias + w[0]*x[0] + w[1]*x[1] + ...` summed in
  that order in float32, as the C loop does (so the host build matches the reference bit for bit).
- **integer** (1- and 2-bit weights): no floating point at run time. Layer i keeps weight codes, an int32
  bias term and a fixed-point multiplier. With x the previous layer's uint8 activations (the features
  for the first layer) and q the weight levels ({-1, 1} or {-3, -1, 1, 3}):

      acc = sum_j q[i][j] * x[j]                          (int32)
      out = (acc * multiplier + bias + 2**(shift-1)) >> shift   (int32, floor shift: rounds to nearest)
      x'  = min(max(out, 0), 255)                         (hidden layers: ReLU and 8 bits in one clamp)

  `multiplier = round(alpha * s_in / s_out * 2**shift)`, `bias = round(b / s_out * 2**shift)`, where s_in
  and s_out are the activation scales (1/16 for the features; 1/256 for the output, so the last layer's
  `out` is the AI logit in 256ths). The shift is the largest that keeps every intermediate in int32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinydetect.mcu.features import FEATURE_SCALE
from tinydetect.mcu.network import ACTIVATION_MAX, MicroMLP, best_weight_scale, weight_levels

OUTPUT_SCALE = 256  # the integer logit's units per 1.0
INT32_LIMIT = 2**31 - 1
MULTIPLIER_LIMIT = 2**15  # keeps the multiplier a 16-bit constant and the product's headroom large


@dataclass(frozen=True)
class FloatLayer:
    weight: np.ndarray  # (outputs, inputs) float32
    bias: np.ndarray  # (outputs,) float32


@dataclass(frozen=True)
class IntegerLayer:
    codes: np.ndarray  # (outputs, inputs) uint8: index into weight_levels(bits)
    bias: np.ndarray  # (outputs,) int64 holding int32 values
    multiplier: int
    shift: int


@dataclass(frozen=True)
class ExportedModel:
    """What the C header holds: the n-gram settings, the layers, and the label threshold on the output."""

    ngram: int
    buckets: int
    weight_bits: int | None  # None: float32
    layers: tuple[FloatLayer, ...] | tuple[IntegerLayer, ...]
    threshold: float = 0.0  # output > threshold is AI (in the output's own units)

    @property
    def parameters(self) -> int:
        return sum(layer.bias.size + (layer.weight if self.weight_bits is None else layer.codes).size
                   for layer in self.layers)

    @property
    def model_bytes(self) -> int:
        """Flash the model's constants take (weights, biases, multipliers and shifts), without code or tables."""
        if self.weight_bits is None:
            return 4 * self.parameters
        weights = sum(layer.codes.size for layer in self.layers)
        biases = sum(layer.bias.size for layer in self.layers)
        return -(-weights * self.weight_bits // 8) + 4 * biases + 5 * len(self.layers)

    @property
    def widths(self) -> list[int]:
        first = self.layers[0]
        return [(first.weight if self.weight_bits is None else first.codes).shape[1], *(len(layer.bias) for layer in self.layers)]


def export_float(model: MicroMLP, ngram: int) -> ExportedModel:
    """The float model with the 1/16 feature scale folded into the first layer (the C code reads bytes)."""
    layers = []
    for index, layer in enumerate(model.layers):
        weight = layer.weight.detach().numpy().astype(np.float32)
        if index == 0:
            weight = (weight / np.float32(FEATURE_SCALE)).astype(np.float32)
        layers.append(FloatLayer(weight, layer.bias.detach().numpy().astype(np.float32)))
    return ExportedModel(ngram, model.sizes[0], None, tuple(layers))


def _shift_for(real_multiplier: float, bias_real: np.ndarray, accumulator_bound: int) -> int:
    """The largest shift <= 30 whose multiplier, product and bias fit (see the module docstring)."""
    for shift in range(30, -1, -1):
        multiplier = round(real_multiplier * 2**shift)
        largest = accumulator_bound * abs(multiplier) + float(np.abs(bias_real).max(initial=0)) * 2**shift + 2**shift
        if abs(multiplier) < MULTIPLIER_LIMIT and largest < INT32_LIMIT:
            return shift
    raise ValueError(f"no fixed-point shift keeps this layer in int32 (multiplier {real_multiplier})")


def export_integer(model: MicroMLP, ngram: int) -> ExportedModel:
    """The quantization-aware model as integers: codes, int32 biases, multipliers and shifts."""
    bits, scales = model.weight_bits, model.activation_scales
    if bits is None or scales is None:
        raise ValueError("export_integer needs a model from network.quantized()")
    input_scales = [1 / FEATURE_SCALE, *scales]
    output_scales = [*scales, 1 / OUTPUT_SCALE]
    levels = weight_levels(bits)
    layers = []
    for index, layer in enumerate(model.layers):
        weight = layer.weight.detach()
        alpha = best_weight_scale(weight, bits)
        codes = np.abs(weight.numpy()[..., None] / alpha - levels).argmin(axis=-1).astype(np.uint8)
        bound = layer.in_features * ACTIVATION_MAX * int(np.abs(levels).max())  # features and activations: bytes
        real_multiplier = alpha * input_scales[index] / output_scales[index]
        bias_real = layer.bias.detach().numpy().astype(np.float64) / output_scales[index]
        shift = _shift_for(real_multiplier, bias_real, bound)
        layers.append(IntegerLayer(codes, np.round(bias_real * 2**shift).astype(np.int64),
                                   round(real_multiplier * 2**shift), shift))
    return ExportedModel(ngram, model.sizes[0], bits, tuple(layers))


def run_float(model: ExportedModel, feature_bytes: np.ndarray) -> np.ndarray:
    """The float export's logits for (texts, buckets) uint8 features, summed in the C code's order."""
    activations = feature_bytes.astype(np.float32)
    for index, layer in enumerate(model.layers):
        outputs = np.tile(layer.bias, (len(activations), 1))
        for column in range(layer.weight.shape[1]):
            outputs = outputs + layer.weight[:, column] * activations[:, column:column + 1]
        activations = np.maximum(outputs, np.float32(0)) if index < len(model.layers) - 1 else outputs
    return activations[:, 0]


def run_integer(model: ExportedModel, feature_bytes: np.ndarray) -> np.ndarray:
    """The integer export's outputs (AI logit in 256ths) for (texts, buckets) uint8 features, int64."""
    levels = weight_levels(model.weight_bits).astype(np.int64)
    activations = feature_bytes.astype(np.int64)
    for index, layer in enumerate(model.layers):
        accumulators = activations @ levels[layer.codes].T  # (texts, outputs)
        outputs = (accumulators * layer.multiplier + layer.bias + (1 << layer.shift >> 1)) >> layer.shift
        activations = np.clip(outputs, 0, 255) if index < len(model.layers) - 1 else outputs
    return activations[:, 0]


def run(model: ExportedModel, feature_bytes: np.ndarray) -> np.ndarray:
    """The exported model's output per text: a float32 logit, or the integer logit in 256ths."""
    return run_float(model, feature_bytes) if model.weight_bits is None else run_integer(model, feature_bytes)
