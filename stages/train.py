"""train: data/split + models/tokenizer -> models/detector/ (model, tokenizer, threshold) + DVCLive logs."""

from dvclive import Live

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.core.records import load_file
from tinydetect.modeling.model import count_parameters
from tinydetect.modeling.tokenizer import DetectorTokenizer
from tinydetect.modeling.training import ReproducibleDVCLiveCallback, train


def main() -> None:
    params = load_params("base", "model", "train")
    tokenizer = DetectorTokenizer.load("models/tokenizer", max_length=params["model"].max_length)
    # the callback ends the Live run when training ends
    live = Live("dvclive/train", save_dvc_exp=False, dvcyaml=None)
    result = train(
        params["model"],
        params["train"],
        tokenizer,
        load_file("data/split/train.jsonl"),
        load_file("data/split/val.jsonl"),
        seed=params["base"].seed,
        callbacks=[ReproducibleDVCLiveCallback(live=live)],
    )
    result.detector.save("models/detector")
    write_json("metrics/train.json", {
        "best_val_roc_auc": round(result.best_val_roc_auc, 6),
        "epochs_run": result.epochs_run,
        "parameters": count_parameters(result.detector.model),
        "threshold": round(result.detector.threshold, 6),
        "vocab_size": tokenizer.vocab_size,
    })


if __name__ == "__main__":
    exit_on_user_error(main)
