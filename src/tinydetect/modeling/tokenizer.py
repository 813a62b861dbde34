"""SentencePiece tokenizer, trained on the train split and saved beside the model.

Piece ids 0-4 are fixed so every export (PyTorch, ONNX, Core ML, a browser) agrees:
0 [PAD], 1 [UNK], 2 [CLS], 3 [SEP], 4 [MASK]. Byte fallback maps characters never seen
in training (emoji, rare Hangul) to byte pieces instead of [UNK]. The normalization
(`tokenizer.normalization: robust`, see tinydetect.modeling.normalization) is compiled
into the model, so every runtime that reads it or its `tokenizer.json` applies it.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sentencepiece as spm

from tinydetect.core.config import TokenizerConfig
from tinydetect.core.errors import UserError
from tinydetect.modeling.normalization import normalization_rule_tsv

MODEL_FILE = "tokenizer.model"
CONFIG_FILE = "tokenizer_config.json"
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = 0, 1, 2, 3, 4
# The normalizer's name in the model: which rule table it compiled.
ROBUST, ROBUST_CASEFOLD = "tinydetect_robust", "tinydetect_robust_cf"
MASK_PIECE = "[MASK]"
_MASK_STAND_IN = "\ue000"  # private use: no normalization rule changes it


def train_sentencepiece(texts: Sequence[str], config: TokenizerConfig, seed: int) -> bytes:
    """Train on `texts` and return the serialized model.

    `hard_vocab_limit=False` lets a small corpus end below `vocab_size` instead of
    failing; the real size is read back from the model.
    """
    spm.set_random_generator_seed(seed)
    model = io.BytesIO()
    try:
        if config.normalization == "nfkc":
            _train(texts, config, model, normalization_rule_name="nfkc")
        else:
            with tempfile.TemporaryDirectory() as folder:
                rules = Path(folder) / "rules.tsv"
                rules.write_text(normalization_rule_tsv(config.casefold), encoding="utf-8")
                _train(texts, config, model, normalization_rule_tsv=str(rules))
    except RuntimeError as error:  # e.g. a vocabulary smaller than the character set
        raise UserError(f"tokenizer: SentencePiece training failed: {error}") from None
    return _named_rules(model.getvalue(), config)


def _named_rules(model_proto: bytes, config: TokenizerConfig) -> bytes:
    """Name the compiled rules and drop the temporary TSV path the trainer records.

    The path would differ on every run (and so would dvc.lock's hash of the model); the
    compiled map (`precompiled_charsmap`) is what normalizes.
    """
    from sentencepiece import sentencepiece_model_pb2

    if config.normalization == "nfkc":
        return model_proto
    proto = sentencepiece_model_pb2.ModelProto.FromString(model_proto)
    proto.normalizer_spec.name = ROBUST_CASEFOLD if config.casefold else ROBUST
    proto.normalizer_spec.normalization_rule_tsv = ""
    return proto.SerializeToString()


def _train(texts: Sequence[str], config: TokenizerConfig, model: io.BytesIO, **normalization: str) -> None:
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        vocab_size=config.vocab_size,
        model_type=config.model_type,
        character_coverage=config.character_coverage,
        **normalization,
        byte_fallback=True,
        hard_vocab_limit=False,
        pad_id=PAD_ID, pad_piece="[PAD]",
        unk_id=UNK_ID, unk_piece="[UNK]",
        bos_id=CLS_ID, bos_piece="[CLS]",
        eos_id=SEP_ID, eos_piece="[SEP]",
        user_defined_symbols=[MASK_PIECE],
        max_sentence_length=1 << 16,
        num_threads=1,  # one thread: the same pieces on every run
        minloglevel=2,
    )


class DetectorTokenizer:
    """Text to fixed-length `input_ids` and `attention_mask`: [CLS] pieces [SEP] [PAD]...

    `DetectorTokenizer.load("models/detector")(["안녕하세요"])["input_ids"]` has shape (1, 128).
    """

    def __init__(self, model_proto: bytes, max_length: int):
        self.model_proto = model_proto
        self.max_length = max_length
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)

    @property
    def vocab_size(self) -> int:
        return self.processor.get_piece_size()

    @property
    def normalization(self) -> str:
        """The compiled rules' name: nfkc, tinydetect_robust or tinydetect_robust_cf."""
        from sentencepiece import sentencepiece_model_pb2

        return sentencepiece_model_pb2.ModelProto.FromString(self.model_proto).normalizer_spec.name

    @classmethod
    def load(cls, directory: str | Path, max_length: int | None = None) -> DetectorTokenizer:
        directory = Path(directory)
        saved = json.loads((directory / CONFIG_FILE).read_text()) if (directory / CONFIG_FILE).exists() else {}
        return cls((directory / MODEL_FILE).read_bytes(), max_length or saved.get("max_length", 128))

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MODEL_FILE).write_bytes(self.model_proto)
        config = {
            "max_length": self.max_length,
            "vocab_size": self.vocab_size,
            "special_ids": {"pad": PAD_ID, "unk": UNK_ID, "cls": CLS_ID, "sep": SEP_ID, "mask": MASK_ID},
            "normalization": self.normalization,
        }
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")

    def to_hf_tokenizer(self):
        """The same tokenizer as a Hugging Face `tokenizers.Tokenizer`, for `tokenizer.json` consumers.

        Apps that cannot run SentencePiece (Swift via swift-transformers, browsers via
        transformers.js) load `tokenizer.json`. It is built by transformers' own SentencePiece
        converter from the model proto, so it follows the model's type (unigram or BPE) and its
        normalizer (the precompiled NFKC map, whitespace handling); the test suite checks that
        both give the same ids. [CLS]/[SEP], truncation and padding are ours to add.
        """
        from sentencepiece import sentencepiece_model_pb2
        from tokenizers import normalizers, processors
        from transformers.convert_slow_tokenizer import SpmConverter

        proto = sentencepiece_model_pb2.ModelProto.FromString(self.model_proto)
        pieces = [(piece.piece, piece.score) for piece in proto.pieces]
        is_bpe = proto.trainer_spec.model_type == sentencepiece_model_pb2.TrainerSpec.BPE
        vocab = {piece: index for index, (piece, _) in enumerate(pieces)} if is_bpe else pieces
        tokenizer = SpmConverter.build_tokenizer_from_spm_proto(proto, vocab)
        steps = [tokenizer.normalizer[index] for index in range(len(tokenizer.normalizer))]
        if steps and isinstance(steps[0], normalizers.Precompiled) and proto.normalizer_spec.name == "nfkc":
            # The precompiled NFKC map turns compatibility jamo (ㄱㅐ) into conjoining jamo but, unlike
            # SentencePiece, does not then compose them into a syllable (개): NFC after it does.
            tokenizer.normalizer = normalizers.Sequence([steps[0], normalizers.NFC(), *steps[1:]])
        elif steps and isinstance(steps[0], normalizers.Precompiled):
            # `tokenizers` looks a whole grapheme cluster up in the map and, when the cluster's first
            # character has a rule, replaces the cluster with that rule's output: "E" + U+0301 became
            # "e", where SentencePiece takes the longest rule ("E" + U+0301 -> "é"). Composing first
            # (NFC) leaves such a cluster one character, so both agree.
            # SentencePiece matches its user-defined symbol [MASK] in the raw text, before the rules (which
            # would fold it to "[mask]"); a private-use character, which no rule touches, carries it across
            hidden = normalizers.Replace(MASK_PIECE, _MASK_STAND_IN)
            shown = normalizers.Replace(_MASK_STAND_IN, MASK_PIECE)
            tokenizer.normalizer = normalizers.Sequence([hidden, normalizers.NFC(), *steps, shown])
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", CLS_ID), ("[SEP]", SEP_ID)]
        )
        tokenizer.enable_truncation(self.max_length)
        tokenizer.enable_padding(length=self.max_length, pad_id=PAD_ID, pad_token="[PAD]")
        return tokenizer

    def encode_ids(self, text: str) -> list[int]:
        """[CLS] + pieces (truncated) + [SEP], unpadded."""
        pieces = self.processor.encode(text)[: self.max_length - 2]
        return [CLS_ID, *pieces, SEP_ID]

    def __call__(self, texts: Sequence[str], pad_to_longest: bool = False) -> dict[str, np.ndarray]:
        """Batch encode; arrays of shape (batch, max_length), int64, or (batch, the longest text's length) with
        `pad_to_longest` (for a graph with a dynamic sequence axis: one text at a time then carries no padding)."""
        encoded = [self.encode_ids(text) for text in texts]
        width = max(map(len, encoded), default=0) if pad_to_longest else self.max_length
        input_ids = np.full((len(texts), width), PAD_ID, dtype=np.int64)
        attention_mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, ids in enumerate(encoded):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask}

