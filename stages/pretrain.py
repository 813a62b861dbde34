"""pretrain: train split + data/unlabelled/ -> models/encoders/fixed/ (an MLM-trained encoder) + metrics/pretrain.json."""

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.core.launch import is_main_process, world_size
from tinydetect.core.records import load_file
from tinydetect.modeling.pretraining import pretrain, unlabelled_texts
from tinydetect.modeling.tokenizer import DetectorTokenizer

UNLABELLED = "data/unlabelled"


def main() -> None:
    params = load_params("base", "model", "pretrain")
    tokenizer = DetectorTokenizer.load("models/tokenizer", max_length=params["model"].max_length)
    split_texts = [record.text for record in load_file("data/split/train.jsonl")]
    extra_texts, extra_files = unlabelled_texts(UNLABELLED)
    held_out = [record.text for record in load_file("data/split/val.jsonl")]
    result = pretrain(params["model"], params["pretrain"], tokenizer, split_texts + extra_texts, held_out,
                      params["base"].seed)
    if not is_main_process():  # under torchrun every process ends with the same model: one writes it
        return
    result.model.save_pretrained("models/encoders/fixed")
    write_json("metrics/pretrain.json", {
        "texts": result.texts,
        "train_split_texts": len(split_texts),
        "unlabelled_texts": len(extra_texts),
        "unlabelled_files": extra_files,
        "epochs": params["pretrain"].epochs,
        "val_mlm_loss": round(result.eval_loss, 6) if result.eval_loss is not None else None,
        "val_perplexity": result.perplexity,
        "val_perplexity_by_epoch": result.perplexity_by_epoch,  # where it stops falling, more epochs buy little
        "processes": world_size(),
    })


if __name__ == "__main__":
    exit_on_user_error(main)
