"""teacher: train split -> models/teacher/soft_labels.jsonl, the teacher's P(AI) for each training text.

With `train.teacher: tfidf`, the character n-gram model (the baseline's), cross-fitted over 5
group folds so no text is labelled by a teacher that saw it; with `none`, an empty file.
"""

import numpy as np
from sklearn.metrics import roc_auc_score

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json, write_jsonl
from tinydetect.core.records import load_file
from tinydetect.modeling.distillation import cross_fitted_soft_labels


def main() -> None:
    params = load_params("base", "train", "eval")
    train_records = load_file("data/split/train.jsonl")
    if params["train"].teacher == "none":
        write_jsonl("models/teacher/soft_labels.jsonl", [])
        write_json("metrics/teacher.json", {"teacher": "none"})
        return
    soft = cross_fitted_soft_labels(train_records, params["eval"].baseline_max_features, params["base"].seed)
    write_jsonl("models/teacher/soft_labels.jsonl",
                ({"id": record.id, "p_ai": round(float(p), 6)} for record, p in zip(train_records, soft, strict=True)))
    labels = np.array([record.label_int for record in train_records])
    write_json("metrics/teacher.json", {"teacher": params["train"].teacher, "texts": len(train_records),
                                        "cross_fitted_roc_auc": round(float(roc_auc_score(labels, soft)), 6)})


if __name__ == "__main__":
    exit_on_user_error(main)
