"""A trace-friendly view of the detector for exporters (ONNX now, Core ML next).

Hugging Face's BERT builds its attention mask with helpers that tracers and converters
trip on (`new_ones`, data-dependent shapes). `ExportableDetector` calls the same
submodules with the same weights but builds the inputs itself: positions from `arange`,
token types of zero, and the classic additive mask `(1 - mask) * -10000`. Attention is
the textbook `softmax(QK^T / sqrt(d) + mask) V`, registered with transformers'
`AttentionInterface`, because that exact op sequence is what ONNX Runtime's BERT
optimizer recognises and fuses.
"""

from __future__ import annotations

import copy
import math

import torch
from transformers import AttentionInterface

EXPORT_ATTENTION = "tinydetect_export"
INPUT_NAMES = ["input_ids", "attention_mask"]
OUTPUT_NAMES = ["logits"]
MASK_VALUE = -1e4


def _textbook_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    # a Div by a Python constant: the op ORT's attention fusion looks for
    scores = torch.matmul(query, key.transpose(2, 3)) / math.sqrt(module.attention_head_size)
    if attention_mask is not None:
        scores = scores + attention_mask
    probabilities = torch.softmax(scores, dim=-1)
    return torch.matmul(probabilities, value).transpose(1, 2).contiguous(), probabilities


AttentionInterface.register(EXPORT_ATTENTION, _textbook_attention)


class ExportableDetector(torch.nn.Module):
    """(input_ids, attention_mask) -> logits, equal to the HF model's logits in eval mode."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        model = copy.deepcopy(model).eval()
        model.set_attn_implementation(EXPORT_ATTENTION)
        self.bert, self.classifier, self.lexical = model.bert, model.classifier, getattr(model, "lexical", None)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(self.pooled(input_ids, attention_mask))
        return logits if self.lexical is None else logits + self.lexical(input_ids, attention_mask)

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """BERT's pooled output, (batch, hidden): what the classifier reads."""
        return self.bert.pooler(self.encoded(input_ids, attention_mask)[1])

    def encoded(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(the embedding layer's output, the last layer's, the mask BERT read), each for BERT's tokens only."""
        # BERT reads the first tokens only; a slice past the end stops at it, so a shorter input (a graph exported
        # with a dynamic sequence axis) gets all its tokens, and the positions follow the length at run time
        first = self.bert.config.max_position_embeddings
        bert_ids, bert_mask = input_ids[:, :first], attention_mask[:, :first]
        position_ids = torch.arange(bert_ids.shape[1], device=input_ids.device).unsqueeze(0)
        embedded = self.bert.embeddings(
            input_ids=bert_ids, position_ids=position_ids, token_type_ids=torch.zeros_like(bert_ids)
        )
        hidden = embedded
        additive_mask = (1.0 - bert_mask[:, None, None, :].to(hidden.dtype)) * MASK_VALUE
        for layer in self.bert.encoder.layer:
            hidden = layer(hidden, additive_mask)
        return embedded, hidden, bert_mask
