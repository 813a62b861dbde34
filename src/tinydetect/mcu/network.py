"""The microcontroller MLP in PyTorch: training, structured pruning and quantization-aware training.

Shapes: the input is `features.feature_matrix(...) / 16`, (batch, buckets); every hidden layer is
Linear + ReLU; the last layer has one output, the AI logit, (batch,).

Quantization-aware training (QAT) keeps float weights and trains through their quantized values with
a straight-through estimator (torch's `fake_quantize_per_tensor_affine`, whose gradient passes inside
the clamp range):

- weights, one scale per layer: 1-bit weights are `alpha * sign(w)`, 2-bit ones `alpha * {-3, -1, 1, 3}`
  (an odd grid: no level is wasted on zero, which pruning already provides). alpha is the scale with
  the least squared error for the layer's current weights, recomputed every step (for 1 bit: mean |w|).
- activations after each hidden ReLU: 8-bit unsigned, one scale per layer, fixed before QAT from the
  float model's activations on train (a high percentile over 255), so that the integer C code needs
  only the scales it was exported with.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from tinydetect.mcu.features import FEATURE_SCALE

# codes per weight width, as (quant_min, quant_max) on a grid of step 2*alpha shifted by alpha (see fake_quantize_weight)
WEIGHT_CODES = {1: (0, 1), 2: (-1, 2)}
ACTIVATION_MAX = 255


def weight_levels(bits: int) -> np.ndarray:
    """The weight values in units of alpha, one per code.

    >>> weight_levels(1).tolist(), weight_levels(2).tolist()
    ([-1, 1], [-3, -1, 1, 3])
    """
    low, high = WEIGHT_CODES[bits]
    return np.arange(low, high + 1) * 2 - 1


def best_weight_scale(weight: torch.Tensor, bits: int) -> float:
    """The alpha with the least squared error between `weight` and its quantized form.

    >>> round(best_weight_scale(torch.tensor([-0.5, 0.1, 0.3]), 1), 4)  # 1 bit: mean |w|
    0.3
    """
    magnitudes = weight.detach().abs().flatten()
    if bits == 1:
        return max(float(magnitudes.mean()), 1e-8)
    top = max(float(magnitudes.max()), 1e-8)
    candidates = torch.linspace(top / 3 / 8, top / 3 * 1.5, 96, dtype=weight.dtype)
    errors = [float(((quantize_weight(weight.detach(), float(alpha), bits) - weight.detach()) ** 2).sum())
              for alpha in candidates]
    return float(candidates[int(np.argmin(errors))])


def quantize_weight(weight: torch.Tensor, alpha: float, bits: int) -> torch.Tensor:
    """alpha * the nearest odd level, with a straight-through gradient inside the levels' range.

    >>> quantize_weight(torch.tensor([-1.0, -0.1, 0.2, 0.9]), 0.25, 2).tolist()
    [-0.75, -0.25, 0.25, 0.75]
    """
    low, high = WEIGHT_CODES[bits]
    shifted = torch.fake_quantize_per_tensor_affine(weight + alpha, 2 * alpha, 0, low, high)
    return shifted - alpha


class MicroMLP(nn.Module):
    """Hashed n-gram counts -> ReLU MLP -> one AI logit, with optional weight and activation quantization."""

    def __init__(self, sizes: list[int]):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(inputs, outputs) for inputs, outputs in pairwise(sizes))
        self.weight_bits: int | None = None
        self.activation_scales: list[float] | None = None

    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].in_features, *(layer.out_features for layer in self.layers)]

    def weight(self, index: int) -> torch.Tensor:
        weight = self.layers[index].weight
        if self.weight_bits is None:
            return weight
        return quantize_weight(weight, best_weight_scale(weight, self.weight_bits), self.weight_bits)

    def hidden(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """Every hidden layer's activations, (batch, width) each, quantized when scales are set."""
        activations, outputs = inputs, []
        for index, layer in enumerate(self.layers[:-1]):
            activations = torch.relu(nn.functional.linear(activations, self.weight(index), layer.bias))
            if self.activation_scales is not None:
                scale = self.activation_scales[index]
                activations = torch.fake_quantize_per_tensor_affine(activations, scale, 0, 0, ACTIVATION_MAX)
            outputs.append(activations)
        return outputs

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        last = self.hidden(inputs)[-1] if len(self.layers) > 1 else inputs
        return nn.functional.linear(last, self.weight(len(self.layers) - 1), self.layers[-1].bias).squeeze(-1)


@dataclass(frozen=True)
class Recipe:
    epochs: int
    learning_rate: float
    batch_size: int
    weight_decay: float
    seed: int


def as_inputs(feature_bytes: np.ndarray) -> torch.Tensor:
    """uint8 features -> the float inputs the network reads (even share = 1.0)."""
    return torch.from_numpy(feature_bytes.astype(np.float32) / FEATURE_SCALE)


def val_roc_auc(model: MicroMLP, inputs: torch.Tensor, labels: np.ndarray) -> float:
    with torch.no_grad():
        return float(roc_auc_score(labels, model(inputs).numpy()))


def fit(model: MicroMLP, recipe: Recipe, train: tuple[torch.Tensor, np.ndarray],
        val: tuple[torch.Tensor, np.ndarray]) -> MicroMLP:
    """AdamW on binary cross-entropy; the model as it was at the epoch with the best val ROC-AUC."""
    torch.manual_seed(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    inputs, labels = train[0], torch.from_numpy(train[1].astype(np.float32))
    best_state, best_auc = copy.deepcopy(model.state_dict()), val_roc_auc(model, *val)
    for _ in range(recipe.epochs):
        model.train()
        for batch in torch.randperm(len(inputs), generator=generator).split(recipe.batch_size):
            loss = nn.functional.binary_cross_entropy_with_logits(model(inputs[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        auc = val_roc_auc(model, *val)
        if auc > best_auc:
            best_state, best_auc = copy.deepcopy(model.state_dict()), auc
    model.load_state_dict(best_state)
    return model


def neuron_importance(model: MicroMLP, layer: int) -> torch.Tensor:
    """A hidden neuron's weight in the network: the norm of its incoming times its outgoing weights, (width,)."""
    incoming = model.layers[layer].weight.detach().norm(dim=1)
    outgoing = model.layers[layer + 1].weight.detach().norm(dim=0)
    return incoming * outgoing


def prune_neurons(model: MicroMLP, fraction: float) -> MicroMLP:
    """A copy without the least important `fraction` of each hidden layer's neurons (at least one stays)."""
    pruned = copy.deepcopy(model)
    for index in range(len(model.layers) - 1):
        width = pruned.layers[index].out_features
        keep = max(1, width - round(width * fraction))
        kept = torch.sort(torch.topk(neuron_importance(pruned, index), keep).indices).values
        pruned.layers[index] = _rows(pruned.layers[index], kept)
        pruned.layers[index + 1] = _columns(pruned.layers[index + 1], kept)
    return pruned


def _rows(layer: nn.Linear, kept: torch.Tensor) -> nn.Linear:
    smaller = nn.Linear(layer.in_features, len(kept))
    smaller.weight.data, smaller.bias.data = layer.weight.data[kept].clone(), layer.bias.data[kept].clone()
    return smaller


def _columns(layer: nn.Linear, kept: torch.Tensor) -> nn.Linear:
    smaller = nn.Linear(len(kept), layer.out_features)
    smaller.weight.data, smaller.bias.data = layer.weight.data[:, kept].clone(), layer.bias.data.clone()
    return smaller


def calibrated_scales(model: MicroMLP, inputs: torch.Tensor, percentile: float) -> list[float]:
    """Per hidden layer, the activation scale that maps its `percentile`-th percentile to 255."""
    with torch.no_grad():
        hidden = model.hidden(inputs)
    return [max(float(np.percentile(layer.numpy(), percentile)), 1e-6) / ACTIVATION_MAX for layer in hidden]


def quantized(model: MicroMLP, bits: int, scales: list[float]) -> MicroMLP:
    """A copy that trains and predicts through `bits`-bit weights and 8-bit activations."""
    copy_ = copy.deepcopy(model)
    copy_.weight_bits, copy_.activation_scales = bits, scales
    return copy_
