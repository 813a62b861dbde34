"""The AutoTinyBERT search space: one BERT shape per point, and the moves the searches make in it.

A sub-network (`Architecture`) has a depth, a hidden size shared by every layer, and per layer a number of
attention heads and an FFN width. Heads have one size (`head_size`, 26 by default: TinyBERT-4's 312 / 12), so a
hidden size is a multiple of it and a layer has at most `hidden / head_size` heads: that is what a plain
`BertForSequenceClassification` (with per-layer heads and widths, `DetectorModel`) can hold. The SuperNet holds
the largest point, and every smaller one takes the leading slices of its weights (first layers, first hidden
units, first heads, first neurons), as in the AutoTinyBERT paper.

Searches sample on the grid (`SupernetConfig.hidden_sizes`, FFN widths in steps of `ffn_step`), but any shape
within the largest can be scored: the hand-made TinyBERT-4 and the pruned model sit on the Pareto plot that way.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import numpy as np

from tinydetect.compression.pruning import kept_count
from tinydetect.core.config import ModelConfig, PruneConfig, SupernetConfig
from tinydetect.core.errors import UserError


@dataclass(frozen=True)
class Architecture:
    layers: int
    hidden: int
    heads: tuple[int, ...]  # per layer
    ffn: tuple[int, ...]  # per layer

    def __post_init__(self) -> None:
        if len(self.heads) != self.layers or len(self.ffn) != self.layers:
            raise ValueError(f"an architecture of {self.layers} layers needs {self.layers} head counts and FFN widths")

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: dict) -> Architecture:
        return cls(layers=int(raw["layers"]), hidden=int(raw["hidden"]), heads=tuple(int(h) for h in raw["heads"]),
                   ffn=tuple(int(f) for f in raw["ffn"]))

    def label(self) -> str:
        """Short and unique: `L4 H312 A12,12,12,12 F1200,1200,1200,1200`."""
        return f"L{self.layers} H{self.hidden} A{','.join(map(str, self.heads))} F{','.join(map(str, self.ffn))}"


@dataclass(frozen=True)
class SearchSpace:
    layer_choices: tuple[int, ...]
    hidden_choices: tuple[int, ...]
    head_size: int
    ffn_min: int
    ffn_max: int
    ffn_step: int

    @classmethod
    def from_config(cls, config: SupernetConfig) -> SearchSpace:
        return cls(layer_choices=tuple(range(config.min_layers, config.max_layers + 1)),
                   hidden_choices=tuple(sorted(config.hidden_sizes)), head_size=config.head_size,
                   ffn_min=config.ffn_min, ffn_max=config.ffn_max, ffn_step=config.ffn_step)

    @property
    def ffn_choices(self) -> tuple[int, ...]:
        return tuple(range(self.ffn_min, self.ffn_max + 1, self.ffn_step))

    def max_heads(self, hidden: int) -> int:
        return hidden // self.head_size

    def largest(self) -> Architecture:
        layers, hidden = max(self.layer_choices), max(self.hidden_choices)
        return Architecture(layers, hidden, (self.max_heads(hidden),) * layers, (self.ffn_max,) * layers)

    def smallest(self) -> Architecture:
        layers, hidden = min(self.layer_choices), min(self.hidden_choices)
        return Architecture(layers, hidden, (1,) * layers, (self.ffn_min,) * layers)

    def sample(self, rng: random.Random) -> Architecture:
        layers, hidden = rng.choice(self.layer_choices), rng.choice(self.hidden_choices)
        heads = tuple(rng.randint(1, self.max_heads(hidden)) for _ in range(layers))
        return Architecture(layers, hidden, heads, tuple(rng.choice(self.ffn_choices) for _ in range(layers)))

    def contains(self, arch: Architecture) -> bool:
        """Whether the SuperNet can run `arch` (on or off the sampling grid)."""
        largest = self.largest()
        return (arch.layers <= largest.layers and arch.hidden <= largest.hidden and arch.hidden % self.head_size == 0
                and all(1 <= h <= self.max_heads(arch.hidden) for h in arch.heads)
                and all(1 <= f <= self.ffn_max for f in arch.ffn))

    def check(self, arch: Architecture, what: str) -> None:
        if not self.contains(arch):
            raise UserError(f"{what} ({arch.label()}) is outside the SuperNet's space (largest {self.largest().label()}, "
                            f"head size {self.head_size}): widen supernet.* in params.yaml")

    def mutate(self, arch: Architecture, rng: random.Random, probability: float) -> Architecture:
        """Each gene (depth, hidden size, each layer's heads and FFN width) redrawn with `probability`."""
        layers = rng.choice(self.layer_choices) if rng.random() < probability else arch.layers
        hidden = rng.choice(self.hidden_choices) if rng.random() < probability else arch.hidden
        heads, ffn = [], []
        for index in range(layers):
            old_heads = arch.heads[min(index, arch.layers - 1)]
            redraw = rng.random() < probability or old_heads > self.max_heads(hidden)
            heads.append(rng.randint(1, self.max_heads(hidden)) if redraw else old_heads)
            old_ffn = arch.ffn[min(index, arch.layers - 1)]
            ffn.append(rng.choice(self.ffn_choices) if rng.random() < probability else old_ffn)
        return Architecture(layers, hidden, tuple(heads), tuple(ffn))

    def crossover(self, first: Architecture, second: Architecture, rng: random.Random) -> Architecture:
        """Depth and hidden size from either parent, each layer's genes from either (the deeper one's past the end)."""
        layers = rng.choice((first.layers, second.layers))
        hidden = rng.choice((first.hidden, second.hidden))
        heads, ffn = [], []
        for index in range(layers):
            parents = [parent for parent in (first, second) if index < parent.layers]
            heads.append(min(rng.choice(parents).heads[index], self.max_heads(hidden)))
            ffn.append(rng.choice(parents).ffn[index])
        return Architecture(layers, hidden, tuple(heads), tuple(ffn))


def encode(arch: Architecture, head_size: int) -> np.ndarray:
    """The latency predictor's features: the shape, and the multiply-adds each part of it costs per token.

    The paper encodes the architecture as a vector of its dimensions; the cost terms (what the INT8 MatMuls and the
    attention products do per token at 128 tokens) let a small model fit with a few dozen measurements.
    """
    qkv = [heads * head_size for heads in arch.heads]
    projections = sum(4 * arch.hidden * width for width in qkv)  # query, key, value, output
    ffn = sum(2 * arch.hidden * width for width in arch.ffn)
    attention = sum(2 * 128 * width for width in qkv)  # scores and weighted values, 128 tokens
    return np.array([arch.layers, arch.hidden, sum(arch.heads), sum(arch.ffn), arch.layers * arch.hidden,
                     projections / 1e6, ffn / 1e6, attention / 1e6], dtype=np.float64)


def hand_made(config: ModelConfig) -> Architecture:
    """The fixed shape in `model:` (TinyBERT-4 by default)."""
    layers = config.num_hidden_layers
    return Architecture(layers, config.hidden_size, (config.num_attention_heads,) * layers,
                        (config.intermediate_size,) * layers)


def pruned_shape(config: ModelConfig, prune: PruneConfig) -> Architecture:
    """The shape `prune` leaves of the hand-made model (the same count in every layer: `pruning.kept_count`)."""
    layers = config.num_hidden_layers
    heads = kept_count(config.num_attention_heads, prune.head_fraction)
    neurons = kept_count(config.intermediate_size, prune.neuron_fraction, prune.neuron_multiple)
    return Architecture(layers, config.hidden_size, (heads,) * layers, (neurons,) * layers)
