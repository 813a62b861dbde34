"""One validated config object per params.yaml section.

Each section of params.yaml maps to a frozen pydantic model with `extra="forbid"`,
so a typo such as `train.learnig_rate` fails at the boundary with its name instead
of being silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tinydetect.core.errors import UserError

STRATEGIES = ("paraphrase", "style_transfer", "zero_shot")
# kinds of Core ML package; the registry (tinydetect.runtime.variants) makes one variant of each per source model
COREML_KINDS = ("fp16", "int8", "int4", "palettized4", "w8a8")


class ConfigError(UserError):
    """A params section is missing, has an unknown key or a value of the wrong type."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseConfig(_Section):
    seed: int = 42


class OfflineBackendConfig(_Section):
    order: int = Field(2, ge=2, le=5, description="n-gram order of the offline generator")
    source_weight: float = Field(
        4.0, ge=0, description="how strongly paraphrases follow the source's own n-grams"
    )
    character_languages: list[str] = Field(
        ["ko"], description="languages modelled per character, not per word: a Korean word (eojeol) carries its "
        "particles and endings, so a word model of a few hundred texts has one successor for most words and copies "
        "whole sentences of its sources"
    )
    character_order: int = Field(4, ge=2, le=8, description="n-gram order of the character model")


class GeminiBackendConfig(_Section):
    model: str = "gemini-2.5-flash"
    base_url: str | None = Field(None, description="None: Google's endpoint; another URL: a proxy or a test server")
    api_version: str | None = Field(None, description="None: the SDK's default (v1 in google-genai 3.6)")
    api_key_env: str = Field("GEMINI_API_KEY", description="environment variable (or .env entry) holding the key")
    safety_settings: dict[str, str] = Field(
        {}, description="harm category -> block threshold, e.g. HARM_CATEGORY_HARASSMENT: BLOCK_ONLY_HIGH"
    )
    requests_per_minute: float = Field(1000, gt=0, description="client-side rate limit: raise it to your quota")
    tokens_per_minute: float = Field(1_000_000, gt=0, description="client-side limit on estimated prompt + reply tokens")
    usd_per_million_input_tokens: float = Field(0.30, ge=0)
    usd_per_million_output_tokens: float = Field(2.50, ge=0)


class OpenAICompatibleBackendConfig(_Section):
    model: str = "llama3.2"
    base_url: str = Field("http://localhost:11434/v1", description="any server with /v1/chat/completions")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable with the key; local servers need none")
    requests_per_minute: float = Field(1000, gt=0, description="client-side rate limit: raise it to your quota")
    tokens_per_minute: float = Field(1_000_000, gt=0, description="client-side limit on estimated prompt + reply tokens")
    usd_per_million_input_tokens: float = Field(0.0, ge=0)
    usd_per_million_output_tokens: float = Field(0.0, ge=0)


class SynthConfig(_Section):
    backend: Literal["offline", "gemini", "openai_compatible"] = "offline"
    multiplier: int = Field(1, ge=0, description="AI texts per HUMAN text; 0 turns synth off")
    target_size: int | None = Field(None, ge=0, description="total AI texts; overrides multiplier")
    strategies: dict[str, float] = {"paraphrase": 0.5, "style_transfer": 0.25, "zero_shot": 0.25}
    styles: list[str] = ["formal", "casual blog", "review"]
    temperature: float = Field(0.5, gt=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_output_tokens: int = Field(1024, ge=16)
    workers: int = Field(20, ge=1, description="requests in flight at once")
    max_retries: int = Field(6, ge=0, description="retries per request on 429, 5xx, timeouts and malformed replies")
    timeout_s: float = Field(60, gt=0, description="per request")
    offline: OfflineBackendConfig = OfflineBackendConfig()
    gemini: GeminiBackendConfig = GeminiBackendConfig()
    openai_compatible: OpenAICompatibleBackendConfig = OpenAICompatibleBackendConfig()

    @property
    def server(self) -> GeminiBackendConfig | OpenAICompatibleBackendConfig | None:
        """The settings of the network backend in use; None for the offline one (no limits, no prices)."""
        return {"gemini": self.gemini, "openai_compatible": self.openai_compatible}.get(self.backend)

    @model_validator(mode="after")
    def _known_strategies(self) -> SynthConfig:
        unknown = sorted(set(self.strategies) - set(STRATEGIES))
        if unknown:
            raise ValueError(f"unknown strategies {unknown}; choose from {list(STRATEGIES)}")
        if sum(self.strategies.values()) <= 0 or min(self.strategies.values()) < 0:
            raise ValueError("strategy weights must be >= 0 and not all 0")
        return self


class SplitConfig(_Section):
    val_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.2, gt=0, lt=0.5)


class TokenizerConfig(_Section):
    vocab_size: int = Field(8000, ge=300)
    model_type: Literal["unigram", "bpe"] = "unigram"
    character_coverage: float = Field(0.9995, gt=0, le=1)
    normalization: Literal["robust", "nfkc"] = Field(
        "robust", description="robust: NFKC plus the evasion rules of tinydetect.modeling.normalization")
    casefold: bool = Field(True, description="robust only: fold case, so flipped capitals change no piece")


class ModelConfig(_Section):
    """TinyBERT-4 shape by default; the keys are BertConfig's own names."""

    num_hidden_layers: int = Field(4, ge=1)
    hidden_size: int = Field(312, ge=8)
    num_attention_heads: int = Field(12, ge=1)
    intermediate_size: int = Field(1200, ge=8)
    max_length: int = Field(128, ge=8, description="tokens per text, [CLS] and [SEP] included")
    hidden_dropout_prob: float = Field(0.1, ge=0, lt=1)
    attention_probs_dropout_prob: float = Field(0.1, ge=0, lt=1)
    lexical_buckets: int = Field(
        65536, ge=0, description="hashed token-bigram buckets of the lexical branch (a TF-IDF logistic regression over "
        "token unigrams and bigrams whose logit adds to BERT's); 0: no lexical branch"
    )
    lexical_max_length: int = Field(
        512, ge=8, description="tokens the lexical branch reads (BERT reads the first max_length of them)"
    )
    source: Literal["fixed", "searched"] = Field(
        "fixed", description="fixed: train the shape above from models/encoders/fixed (pretrain); searched: the "
        "sub-network the search stage chose under search.latency_ms, models/encoders/searched (extract)"
    )

    @property
    def input_length(self) -> int:
        """Tokens per text the tokenizer gives the model: all the lexical branch reads, BERT's first."""
        return max(self.max_length, self.lexical_max_length) if self.lexical_buckets else self.max_length

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> ModelConfig:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not divisible by "
                f"num_attention_heads {self.num_attention_heads}"
            )
        return self


def _check_processes_divide_batch(section: PretrainConfig | TrainConfig) -> PretrainConfig | TrainConfig:
    """Every process takes batch_size / processes texts per step, so that a step sees batch_size texts, as alone."""
    if section.batch_size % section.processes:
        raise ValueError(f"batch_size {section.batch_size} is not divisible by processes {section.processes}")
    return section


class PretrainConfig(_Section):
    """Masked-language-model pre-training of the encoder (the `pretrain` stage)."""

    epochs: int = Field(3, ge=0, description="0: no pre-training (train starts from random weights)")
    learning_rate: float = Field(5e-4, gt=0)
    batch_size: int = Field(32, ge=1)
    mlm_probability: float = Field(0.15, gt=0, lt=1, description="share of pieces masked")
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    device: Literal["cpu", "auto"] = Field("cpu", description="as train.device")
    processes: int = Field(1, ge=1, description="processes to train in on this machine: 1 runs the stage as it is; "
                           "N > 1 runs it under torchrun (DDP over gloo), batch_size then split among them")

    @model_validator(mode="after")
    def _processes_divide_batch(self) -> PretrainConfig:
        return _check_processes_divide_batch(self)


# The allowed names, defined here once: robustness.attacks and decision.policies import them
CHARACTER_LEVEL_ATTACKS = ("zero_width_space", "homoglyph", "whitespace", "upper_lower")
WORD_LEVEL_ATTACKS = ("article_deletion", "number", "insert_paragraphs", "misspelling", "alternative_spelling")
AttackName = Literal[CHARACTER_LEVEL_ATTACKS + WORD_LEVEL_ATTACKS]
THRESHOLD_POLICIES = ("target_fpr_pooled", "target_fpr_every_domain", "target_fpr_tolerant", "f1")


class TrainConfig(_Section):
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(32, ge=1)
    epochs: int = Field(6, ge=1)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="0.1 caps P(AI) near 0.95 and crowds the low-FPR threshold")
    teacher: Literal["none", "tfidf"] = Field(
        "tfidf", description="distil from a teacher's soft labels: tfidf, the character n-gram model, cross-fitted; "
        "none: the hard labels alone"
    )
    distill_alpha: float = Field(0.5, ge=0, le=1, description="weight of the teacher's soft labels in the loss")
    distill_temperature: float = Field(2.0, gt=0, description="softens teacher and student alike")
    lexical_c: float = Field(
        100.0, gt=0, description="inverse L2 strength (scikit-learn's C) of the lexical branch's logistic regression"
    )
    early_stopping_patience: int = Field(2, ge=1)
    min_encoder_val_roc_auc: float = Field(
        0.6, ge=0, le=1, description="the encoder's own best val ROC-AUC below this means it learned nothing: "
        "the stage fails (or warns, with encoder_guard: warn) instead of shipping the n-gram branch in its name")
    min_loss_drop_from_prior: float = Field(
        0.1, ge=0, lt=1, description="the encoder's training must end with a train loss this share below the "
        "loss of answering the class prior whatever the text (its entropy; with a teacher or class weights, the "
        "same loss at its best constant answer), or it predicted the prior (the guard fails or warns)")
    encoder_guard: Literal["fail", "warn"] = Field(
        "fail", description="what an encoder below min_encoder_val_roc_auc or min_loss_drop_from_prior does")
    class_weight: Literal["none", "balanced"] = Field(
        "none", description="balanced: each class weighs as much in the loss as the other (scikit-learn's rule, "
        "n / (2 n_class)), so a prior-heavy split (L2R is 80% AI) gives no reward for predicting the prior")
    window_share: float = Field(
        0.0, ge=0, le=1, description="share of train texts whose encoder reads a random window of the text instead "
        "of its start, drawn anew each epoch (more views of few texts; val, test and inference read the start)")
    augment_attacks: list[AttackName] = Field(
        default_factory=list, description="add a copy of every train text under each of these RAID attacks "
        "(tinydetect.robustness.attacks), same label: for the edits normalization cannot undo")
    device: Literal["cpu", "auto"] = Field(
        "cpu", description="cpu: never a GPU, even where there is one; auto: the Trainer takes a GPU (CUDA, MPS) if there is one"
    )
    processes: int = Field(1, ge=1, description="processes to train in on this machine: 1 runs the stage as it is; "
                           "N > 1 runs it under torchrun (DDP over gloo), batch_size then split among them")

    @model_validator(mode="after")
    def _processes_divide_batch(self) -> TrainConfig:
        return _check_processes_divide_batch(self)


class PruneConfig(_Section):
    head_fraction: float = Field(0.3, ge=0, lt=1, description="share of attention heads removed per layer")
    neuron_fraction: float = Field(0.3, ge=0, lt=1, description="share of FFN neurons removed per layer")
    neuron_multiple: int = Field(26, ge=1, description="kept FFN width is a multiple of this")
    finetune_epochs: int = Field(2, ge=0, description="epochs of the train recipe after pruning")


class _ParityLimits(_Section):
    """How far a quantized or exported variant may drift from its source (evaluation.parity)."""

    max_label_disagreement: float = Field(
        0.02, ge=0, le=1, description="a variant whose val labels differ from its source's more often fails"
    )
    label_margin: float = Field(
        0.25, ge=0, description="parity ignores texts whose source logit margin is this close to the threshold's"
    )


class QuantizeConfig(_ParityLimits):
    int4_block_size: int = Field(32, ge=8, description="weights per INT4 scale (ONNX MatMulNBits)")
    fuse_skip_layer_norm: bool = Field(
        False, description="ORT's SkipLayerNormalization fusion in the ONNX graphs; off, residual Add + LayerNormalization "
        "stay apart, which ONNX Runtime 1.31 runs faster on this CPU (docs/variants.md)",
    )
    dynamic_length: bool = Field(
        True, description="ONNX graphs (all but model_fixed.onnx) with a dynamic sequence axis: each batch is padded "
        "to its longest text, not to the tokenizer's length (docs/variants.md)",
    )


class CoreMLConfig(_ParityLimits):
    variants: list[str] | None = Field(["fp16", "int8", "int4", "w8a8"],
                                       description="kinds of package to build; None: every kind in the registry")
    int4_max_block_size: int = Field(32, ge=8, description="largest INT4 block tried; the one used divides every width")
    calibration_texts: int = Field(64, ge=1, description="val texts that calibrate W8A8 activations (macOS)")

    @model_validator(mode="after")
    def _known_kinds(self) -> CoreMLConfig:
        unknown = sorted(set(self.variants or ()) - set(COREML_KINDS))
        if unknown:
            raise ValueError(f"unknown Core ML variants {unknown}; choose from {list(COREML_KINDS)}")
        return self

    @property
    def kinds(self) -> list[str]:
        return list(COREML_KINDS) if self.variants is None else self.variants


class EvalConfig(_Section):
    threshold_policy: Literal[THRESHOLD_POLICIES] = Field(
        "target_fpr_tolerant",
        description="how train and prune choose the label threshold on val (the baseline's too); see decision/policies.py",
    )
    target_fpr: float = Field(0.01, ge=0, lt=1, description="target_fpr: at most this share of val's human texts called AI")
    threshold_per_language: bool = Field(
        True, description="a cut per language of val (its human and AI texts alone); else one cut for all (decision/threshold.py)"
    )
    target_fnr: float | None = Field(
        0.05, gt=0, lt=1, description="HUMAN only where at most this share of val's AI texts falls; between the two cuts "
        "UNSURE (decision/threshold.py); null: two labels, AI or HUMAN"
    )
    min_words: int = Field(5, ge=0, description="shorter texts are labelled UNSURE (too few words to judge)")
    unfamiliar_share: float = Field(
        0.05, ge=0, lt=1, description="UNSURE for a text with more words the train split never held than all but this "
        "share of val's texts (decision/familiarity.py); 0: no such check"
    )
    cut_folds: int = Field(
        0, ge=0, le=20, description="0: the cuts rest on val's texts alone; K >= 2: also on every train text's P(AI) from "
        "one of K detectors trained without it (the calibrate stage, K more training runs; docs/detector.md)"
    )
    baseline_max_features: int = Field(50000, ge=100)
    max_errors: int = Field(20, ge=0, description="most confident mistakes kept in data/eval/errors.jsonl")
    latency_texts: int = Field(20, ge=1, description="texts timed one at a time for latency")

    @model_validator(mode="after")
    def _folds_to_hold_out(self) -> EvalConfig:
        if self.cut_folds == 1:
            raise ValueError("cut_folds: 1 fold holds nothing out; 0 (val alone) or 2 and more")
        return self


class ServeConfig(_Section):
    """`tinydetect serve` (Triton through PyTriton) and the triton stage's model repository for a stock server."""

    source: Literal["detector", "pruned"] = Field("pruned", description="the source model of the served ONNX variant")
    onnx_kind: Literal["fp32", "int8", "int4"] = Field("int8", description="which ONNX variant of that source")
    max_batch_size: int = Field(32, ge=1, description="dynamic batching: the most texts one model execution scores")
    max_queue_delay_us: int = Field(2000, ge=0, description="dynamic batching: how long a request may wait for others")
    instances: int = Field(2, ge=1, description="model instances (each its own ONNX Runtime session)")
    threads: int = Field(1, ge=0, description="ONNX Runtime intra-op threads per instance; 0: ONNX Runtime chooses")
    max_text_bytes: int = Field(100_000, ge=1, description="longer texts get a 400 (the model reads 512 tokens)")


class FeedbackTrainingConfig(_Section):
    """Training the page's head on the user's corrections (Adam, backbone frozen; tinydetect.web.head and the page)."""

    epochs: int = Field(5, ge=1, le=100)
    learning_rate: float = Field(0.005, gt=0, description="Adam's step on the standardized features: each weight moves "
                                                          "about this much a step, so keep it small for wide heads")
    batch_size: int = Field(1, ge=1)


class FederatedConfig(_Section):
    """What a client of federated averaging sends (tinydetect.federated): its head's change since the global head."""

    delta_bits: Literal[8, 32] = Field(8, description="8: INT8 with a scale per tensor; 32: float32")
    clip_norm: float = Field(0.0, ge=0, description="the delta's L2 norm is cut to this (0: no clipping)")
    noise_multiplier: float = Field(0.0, ge=0, description="Gaussian noise of std noise_multiplier x clip_norm "
                                                           "on the clipped delta, for differential privacy (0: none)")

    @model_validator(mode="after")
    def _noise_needs_a_clip(self) -> FederatedConfig:
        if self.noise_multiplier > 0 and self.clip_norm == 0:
            raise ValueError("noise_multiplier scales clip_norm: set clip_norm > 0 to add noise")
        return self


class WebConfig(_ParityLimits):
    """The web page's assets (tinydetect.web): embedding backbone, head and tokenizer.json in web/public/model/."""

    source: Literal["detector", "pruned"] = Field("pruned", description="the source model of the page's backbone")
    onnx_kind: Literal["fp32", "int8"] = Field("int8", description="the backbone's ONNX kind (INT8: dynamic, as the "
                                              "onnx stage's model_int8.onnx)")
    feedback: FeedbackTrainingConfig = FeedbackTrainingConfig()
    federated: FederatedConfig = FederatedConfig()


class MCUConfig(_Section):
    """The microcontroller model (tinydetect.mcu): hashed character n-grams into a small MLP, 2-bit and 1-bit."""

    ngram: int = Field(3, ge=1, le=8, description="characters per n-gram")
    buckets: int = Field(512, ge=8, le=2048, description="hash buckets = MLP inputs (2 bytes of RAM each)")
    hidden_sizes: list[int] = Field([64, 32], min_length=1, description="hidden layer widths before pruning")
    epochs: int = Field(60, ge=1)
    learning_rate: float = Field(0.003, gt=0)
    batch_size: int = Field(64, ge=1)
    weight_decay: float = Field(0.0001, ge=0)
    prune_fraction: float = Field(0.5, ge=0, lt=1, description="share of each hidden layer's neurons removed")
    finetune_epochs: int = Field(30, ge=0, description="epochs after pruning, at learning_rate / 3")
    qat_epochs: int = Field(30, ge=0, description="quantization-aware epochs per width, at learning_rate / 3")
    activation_percentile: float = Field(99.9, gt=0, le=100, description="activation value mapped to 255")
    simulator_texts: int = Field(24, ge=1, description="test texts run in simavr per variant")
    flash_budget_bytes: int = Field(32256, ge=1, description="UNO: 32 KB less the 512-byte bootloader")
    sram_budget_bytes: int = Field(2048, ge=1, description="UNO: 2 KB, static data and peak stack together")

    @model_validator(mode="after")
    def _positive_widths(self) -> MCUConfig:
        if min(self.hidden_sizes) < 1 or max(self.hidden_sizes) > 255:
            raise ValueError(f"hidden_sizes {self.hidden_sizes}: each between 1 and 255")
        return self


class SupernetConfig(_Section):
    """The AutoTinyBERT SuperNet (the `supernet` stage): its search space and how it is trained."""

    min_layers: int = Field(1, ge=1)
    max_layers: int = Field(4, ge=1)
    hidden_sizes: list[int] = Field([104, 156, 208, 260, 312], min_length=1, description="multiples of head_size")
    head_size: int = Field(26, ge=1, description="every head's width: a layer of hidden h has at most h / head_size heads")
    ffn_min: int = Field(104, ge=1)
    ffn_max: int = Field(1248, ge=1)
    ffn_step: int = Field(104, ge=1, description="FFN widths the searches sample: ffn_min, ffn_min + step, ... ffn_max")
    mlm_epochs: int = Field(1, ge=0, description="masked-language-model epochs on the pretrain corpus (0: none)")
    epochs: int = Field(6, ge=1, description="epochs on the detection task")
    random_subnets: int = Field(0, ge=0, description="sandwich rule: random sub-networks per step beside the "
                                "largest and the smallest")
    learning_rate: float = Field(5e-4, gt=0, description="1e-3 left the large sub-networks near chance (docs/nas.md)")
    batch_size: int = Field(32, ge=1)
    mlm_probability: float = Field(0.15, gt=0, lt=1)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    min_val_roc_auc: float = Field(0.6, ge=0, le=1, description="the largest sub-network's val ROC-AUC below this means "
                                   "the SuperNet learned nothing and its search ranks noise: the stage says so on "
                                   "stderr (the searched pick is then trained, and guarded, by train)")

    @model_validator(mode="after")
    def _consistent(self) -> SupernetConfig:
        if self.min_layers > self.max_layers:
            raise ValueError(f"min_layers {self.min_layers} is above max_layers {self.max_layers}")
        odd = [size for size in self.hidden_sizes if size % self.head_size]
        if odd:
            raise ValueError(f"hidden_sizes {odd} are not multiples of head_size {self.head_size}")
        if self.ffn_min > self.ffn_max:
            raise ValueError(f"ffn_min {self.ffn_min} is above ffn_max {self.ffn_max}")
        return self


class LatencyConfig(_Section):
    """The `latency` stage: sub-networks timed as ONNX INT8 on this machine, and the predictor fitted on them."""

    samples: int = Field(30, ge=4, description="sub-networks measured (the paper: a few hundred; see docs/nas.md)")
    held_out_fraction: float = Field(0.25, gt=0, lt=1, description="measured sub-networks the predictor never "
                                     "sees: its error is reported on them")
    runs: int = Field(20, ge=3, description="timed runs per sub-network (the median is kept)")
    predictor: Literal["auto", "mlp", "linear"] = Field(
        "auto", description="mlp: the paper's small MLP; linear: least squares on the cost features; auto: the one "
        "with the lower cross-validated error on the training sub-networks")


class SearchConfig(_Section):
    """The `search` stage: the best sub-network under a latency budget, by the SuperNet's inherited weights."""

    latency_ms: float = Field(3.0, gt=0, description="budget: predicted ms per text, ONNX INT8, 1 thread, batch 1")
    population: int = Field(12, ge=2)
    generations: int = Field(6, ge=1)
    parents: int = Field(4, ge=1, description="the best this many of a generation breed the next")
    mutation_probability: float = Field(0.3, gt=0, le=1)
    crossover_fraction: float = Field(0.5, ge=0, le=1, description="share of children made by crossover, the "
                                      "rest by mutation")


SECTIONS: dict[str, type[_Section]] = {
    "base": BaseConfig,
    "synth": SynthConfig,
    "split": SplitConfig,
    "tokenizer": TokenizerConfig,
    "model": ModelConfig,
    "pretrain": PretrainConfig,
    "train": TrainConfig,
    "prune": PruneConfig,
    "quantize": QuantizeConfig,
    "coreml": CoreMLConfig,
    "eval": EvalConfig,
    "mcu": MCUConfig,
    "serve": ServeConfig,
    "web": WebConfig,
    "supernet": SupernetConfig,
    "latency": LatencyConfig,
    "search": SearchConfig,
}

SectionT = TypeVar("SectionT", bound=_Section)


def parse_section(name: str, raw: dict | None, params_path: str = "params.yaml") -> _Section:
    """Validate one raw params section; errors name the file and the dotted key."""
    try:
        return SECTIONS[name].model_validate(raw or {})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join([name, *map(str, e['loc'])])}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"{params_path}: {problems}") from None


def load_params(*sections: str, path: str | Path = "params.yaml") -> dict[str, _Section]:
    """Read params.yaml and validate every section; return those named (all when none are).

    A stage names the sections it reads, the same ones `dvc.yaml` lists for it, so reading
    another one is a KeyError here rather than a silent dependency DVC does not know about:
    `load_params("base", "train")["train"].learning_rate`.
    """
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown sections {unknown}; known: {sorted(SECTIONS)}")
    params = {name: parse_section(name, raw.get(name), str(path)) for name in SECTIONS}
    return {name: params[name] for name in sections} if sections else params
