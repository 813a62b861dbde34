"""prune: models/detector -> models/pruned (fewer heads and FFN neurons, fine-tuned) + metrics/prune.json."""

import torch

from tinydetect.compression.pruning import importance, prune
from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import size_mb, write_json
from tinydetect.core.records import load_file
from tinydetect.modeling.model import Detector, count_parameters
from tinydetect.modeling.out_of_fold import OUT_OF_FOLD, read_out_of_fold
from tinydetect.modeling.training import EncodedTexts, TrainingData, fit, policy_threshold


def main() -> None:
    params = load_params("base", "prune", "train", "eval")
    config, seed = params["prune"], params["base"].seed
    train_records, val_records = load_file("data/split/train.jsonl"), load_file("data/split/val.jsonl")
    detector = Detector.load("models/detector")
    parameters_before = count_parameters(detector.model)

    batches = torch.utils.data.DataLoader(EncodedTexts(train_records, detector.tokenizer), batch_size=32)
    scores = importance(detector.model, batches)
    model = prune(detector.model, scores, config.head_fraction, config.neuron_fraction, config.neuron_multiple)
    train_config = params["train"].model_copy(update={"epochs": config.finetune_epochs})
    if config.finetune_epochs:
        data = TrainingData(detector.tokenizer, train_records, val_records)
        cuts = policy_threshold(params["eval"], read_out_of_fold(OUT_OF_FOLD))  # the calibrate stage's too
        result = fit(model, train_config, data, seed, threshold=cuts)
        pruned, best_val_roc_auc = result.detector, round(result.best_val_roc_auc, 6)
        val_rates = {"val_roc_auc": round(result.val_roc_auc, 6),
                     "encoder_val_roc_auc_by_epoch": [row.get("val_roc_auc") for row in result.history],
                     "fusion": {name: round(value, 6) for name, value in result.fusion.items()},
                     "val_false_positive_rate": round(result.val_false_positive_rate, 6),
                     "val_true_positive_rate": round(result.val_true_positive_rate, 6)}
    else:
        pruned, best_val_roc_auc, val_rates = Detector(model, detector.tokenizer, detector.threshold), None, {}
    pruned.save("models/pruned")
    write_json("metrics/prune.json", {
        "parameters_before": parameters_before,
        "parameters": count_parameters(pruned.model),
        "heads_per_layer": model.config.layer_heads,
        "ffn_neurons_per_layer": model.config.layer_intermediate_sizes,
        "size_mb": round(size_mb("models/pruned"), 3),
        "best_val_roc_auc": best_val_roc_auc,
        **pruned.threshold.rounded(),
        **val_rates,
    })


if __name__ == "__main__":
    exit_on_user_error(main)
