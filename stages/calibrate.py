"""calibrate: the train recipe on K folds of the train split -> models/calibration/out_of_fold.jsonl, each train
text's P(AI) from a detector that never trained on it; train and prune pool it with val for the label's cuts.

`eval.cut_folds: 0` (the demo's default) writes an empty file: the cuts rest on val alone.
"""

import numpy as np
from sklearn.metrics import roc_auc_score

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json, write_jsonl
from tinydetect.core.records import load_file
from tinydetect.modeling.inputs import start_from, teacher_labels
from tinydetect.modeling.out_of_fold import OUT_OF_FOLD, out_of_fold_p_ai, scored_rows
from tinydetect.modeling.tokenizer import DetectorTokenizer
from tinydetect.modeling.training import TrainingData
from tinydetect.robustness.augmentation import augmented, augmented_teacher


def main() -> None:
    params = load_params("base", "model", "train", "eval")
    folds, seed, recipe = params["eval"].cut_folds, params["base"].seed, params["train"]
    if folds == 0:
        write_jsonl(OUT_OF_FOLD, [])
        write_json("metrics/calibrate.json", {"cut_folds": 0})
        return
    tokenizer = DetectorTokenizer.load("models/tokenizer", max_length=params["model"].input_length)
    train_records = load_file("data/split/train.jsonl")
    teacher = augmented_teacher(teacher_labels("models/teacher/soft_labels.jsonl"),
                                augmented(train_records, recipe.augment_attacks, seed))
    data = TrainingData(tokenizer, train_records, load_file("data/split/val.jsonl"), teacher)
    p_ai = out_of_fold_p_ai(params["model"], recipe, data, seed, folds,
                            prepare=lambda kept: augmented(kept, recipe.augment_attacks, seed),
                            **start_from(params["model"].source))
    write_jsonl(OUT_OF_FOLD, scored_rows(train_records, p_ai))
    labels = np.array([record.label_int for record in train_records])
    write_json("metrics/calibrate.json", {
        "cut_folds": folds, "texts": len(train_records), "human_texts": int((labels == 0).sum()),
        "out_of_fold_roc_auc": round(float(roc_auc_score(labels, p_ai)), 6),
    })


if __name__ == "__main__":
    exit_on_user_error(main)
