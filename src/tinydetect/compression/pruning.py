"""Structured pruning: remove whole attention heads and FFN neurons, so the model really shrinks.

Importance is first-order (Michel et al. 2019, "Are Sixteen Heads Really Better than One?"):
a gate of ones multiplies every head's output and every FFN neuron's activation, and the
importance of a unit is the absolute gradient of the loss with respect to its gate, summed
over the training texts. Head scores are L2-normalised per layer, as in the paper.

Every layer keeps the same number of heads and neurons. Uniform widths keep each layer's
attention a standard multi-head op (ONNX Runtime fuses it with one `num_heads`) and the
weight shapes friendly to block-wise quantization; the neuron count is rounded to a
multiple of `neuron_multiple` for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tinydetect.modeling.model import DetectorModel, shrink_layer


@dataclass
class Importance:
    heads: np.ndarray  # (layers, heads)
    neurons: np.ndarray  # (layers, intermediate_size)


def _gate_hooks(model: DetectorModel, head_gates: torch.Tensor, neuron_gates: torch.Tensor) -> list:
    """Forward hooks that multiply each head's output and each FFN activation by its gate."""
    handles = []
    for index, layer in enumerate(model.bert.encoder.layer):
        head_size = layer.attention.self.attention_head_size

        def gate_heads(module, inputs, output, index=index, head_size=head_size):
            context, *rest = output
            return (context * head_gates[index].repeat_interleave(head_size), *rest)

        def gate_neurons(module, inputs, output, index=index):
            return output * neuron_gates[index]

        handles.append(layer.attention.self.register_forward_hook(gate_heads))
        handles.append(layer.intermediate.register_forward_hook(gate_neurons))
    return handles


def importance(model: DetectorModel, batches) -> Importance:
    """Sum of |d loss / d gate| over `batches` of dicts with input_ids, attention_mask, labels."""
    config = model.config
    head_gates = torch.ones(config.num_hidden_layers, config.num_attention_heads, requires_grad=True)
    neuron_gates = torch.ones(config.num_hidden_layers, config.intermediate_size, requires_grad=True)
    head_scores, neuron_scores = torch.zeros_like(head_gates), torch.zeros_like(neuron_gates)
    handles = _gate_hooks(model, head_gates, neuron_gates)
    model.eval()  # no dropout: the scores measure the model as it will be used
    try:
        for batch in batches:
            loss = model(**batch).loss
            head_grad, neuron_grad = torch.autograd.grad(loss, [head_gates, neuron_gates])
            head_scores += head_grad.abs()
            neuron_scores += neuron_grad.abs()
    finally:
        for handle in handles:
            handle.remove()
    head_scores = head_scores / head_scores.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return Importance(heads=head_scores.numpy(), neurons=neuron_scores.numpy())


def kept_count(total: int, fraction: float, multiple: int = 1) -> int:
    """How many units survive pruning `fraction` of `total`, rounded to `multiple`, at least one.

    >>> kept_count(12, 0.3), kept_count(1200, 0.3, multiple=8), kept_count(4, 0.99)
    (8, 840, 1)
    """
    kept = round(total * (1 - fraction) / multiple) * multiple
    return int(min(total, max(kept, multiple, 1)))


def top_indices(scores: np.ndarray, count: int) -> list[int]:
    """Indices of the `count` highest scores, in their original order (ties: the lower index).

    >>> top_indices(np.array([0.1, 0.9, 0.5, 0.9]), 2)
    [1, 3]
    """
    order = np.argsort(-scores, kind="stable")[:count]
    return sorted(int(index) for index in order)


def prune(model: DetectorModel, scores: Importance, head_fraction: float, neuron_fraction: float,
          neuron_multiple: int) -> DetectorModel:
    """Remove the least important heads and neurons of every layer, in place; records the widths in the config."""
    config = model.config
    heads_kept = kept_count(config.num_attention_heads, head_fraction)
    neurons_kept = kept_count(config.intermediate_size, neuron_fraction, neuron_multiple)
    for layer, head_scores, neuron_scores in zip(model.bert.encoder.layer, scores.heads, scores.neurons, strict=True):
        shrink_layer(layer, top_indices(head_scores, heads_kept), top_indices(neuron_scores, neurons_kept))
    config.layer_heads = [heads_kept] * config.num_hidden_layers
    config.layer_intermediate_sizes = [neurons_kept] * config.num_hidden_layers
    return model
