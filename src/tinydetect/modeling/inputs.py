"""What the stages that train a detector (train, calibrate) read besides the splits: the teacher's soft labels and
the encoder to start from."""

from __future__ import annotations

from tinydetect.core.files import iter_jsonl


def teacher_labels(path: str) -> dict[str, float] | None:
    """The teacher's P(AI) by record id; None when `train.teacher` is none (the file is empty)."""
    labels = {row["id"]: float(row["p_ai"]) for _, row in iter_jsonl(path)}
    return labels or None


def start_from(source: str) -> dict[str, str]:
    """Where the encoder comes from: only the folder of `model.source` is a dep of these stages (dvc.yaml), so a new
    SuperNet or search does not retrain a fixed-shape detector."""
    folder = f"models/encoders/{source}"
    return {"searched": folder} if source == "searched" else {"pretrained": folder}
