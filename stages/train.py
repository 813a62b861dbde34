"""train: data/split + models/tokenizer + models/encoders/<model.source> (+ models/teacher) -> models/detector/
+ DVCLive logs."""

from dvclive import Live

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.core.launch import is_main_process, world_size
from tinydetect.core.records import load_file
from tinydetect.modeling.inputs import start_from, teacher_labels
from tinydetect.modeling.model import count_parameters
from tinydetect.modeling.out_of_fold import OUT_OF_FOLD, read_out_of_fold
from tinydetect.modeling.tokenizer import DetectorTokenizer
from tinydetect.modeling.training import ReproducibleDVCLiveCallback, TrainingData, policy_threshold, train
from tinydetect.robustness.augmentation import augmented, augmented_teacher


def logging_callbacks() -> list:
    """DVCLive logging, from the one process that writes the outputs (under torchrun, rank 0)."""
    if not is_main_process():
        return []
    return [ReproducibleDVCLiveCallback(live=Live("dvclive/train", save_dvc_exp=False, dvcyaml=None))]  # ends it at the end


def main() -> None:
    params = load_params("base", "model", "train", "eval")
    tokenizer = DetectorTokenizer.load("models/tokenizer", max_length=params["model"].input_length)
    train_records = augmented(load_file("data/split/train.jsonl"), params["train"].augment_attacks, params["base"].seed)
    data = TrainingData(tokenizer, train_records, load_file("data/split/val.jsonl"),
                        augmented_teacher(teacher_labels("models/teacher/soft_labels.jsonl"), train_records))
    cuts = policy_threshold(params["eval"], read_out_of_fold(OUT_OF_FOLD))  # val's texts and the calibrate stage's
    result = train(params["model"], params["train"], data, seed=params["base"].seed, callbacks=logging_callbacks(),
                   threshold=cuts, **start_from(params["model"].source))
    if not is_main_process():  # under torchrun every process ends with the same model: one writes it
        return
    result.detector.save("models/detector")
    write_json("metrics/train.json", {
        "best_val_roc_auc": round(result.best_val_roc_auc, 6),  # BERT's own, lexical branch at zero
        "encoder_val_roc_auc_by_epoch": [row.get("val_roc_auc") for row in result.history],
        "train_loss_by_epoch": [row.get("train_loss") for row in result.history],
        "val_roc_auc": round(result.val_roc_auc, 6),  # the shipped model's: BERT and the branch fused
        "fusion": {name: round(value, 6) for name, value in result.fusion.items()},
        "epochs_run": result.epochs_run,
        "parameters": count_parameters(result.detector.model),
        **result.detector.threshold.rounded(),  # threshold, and thresholds_by_language where chosen
        "val_false_positive_rate": round(result.val_false_positive_rate, 6),
        "val_true_positive_rate": round(result.val_true_positive_rate, 6),
        "vocab_size": tokenizer.vocab_size,
        "distilled_from": params["train"].teacher,
        "source": params["model"].source,  # fixed: the shape in params; searched: the NAS sub-network
        "processes": world_size(),
    })


if __name__ == "__main__":
    exit_on_user_error(main)
