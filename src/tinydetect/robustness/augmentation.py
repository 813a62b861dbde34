"""Attacked copies of training texts: robustness to the edits normalization cannot undo.

Misspellings, deleted articles and inserted paragraph breaks change the pieces the model
reads; the tokenizer cannot map them back. A copy of every train text under each attack in
`train.augment_attacks`, with the same label, teaches the model that they do not decide
the label. Human and AI texts are both copied, so an edit is no sign of either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tinydetect.core.records import Record
from tinydetect.robustness.attacks import attack


def augmented(records: Sequence[Record], attacks: Sequence[str], seed: int) -> list[Record]:
    """`records` and, after them, one copy per attack of each record the attack changed (id `<id>#<attack>`)."""
    copies = []
    for name in attacks:
        for record in records:
            text = attack(record.text, name, seed)
            if text != record.text and text.strip():
                copies.append(record.model_copy(update={"id": f"{record.id}#{name}", "text": text}))
    return [*records, *copies]


def augmented_teacher(teacher_p_ai: Mapping[str, float] | None, records: Sequence[Record]) -> dict[str, float] | None:
    """A teacher's P(AI) for the copies too: each copy takes its original's (NaN where it has none)."""
    if teacher_p_ai is None:
        return None
    return {record.id: teacher_p_ai.get(record.id.split("#", 1)[0], float("nan")) for record in records}
