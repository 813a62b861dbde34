"""supernet: train split + data/unlabelled/ + tokenizer -> models/supernet/ (weights every sub-network shares) + metrics.

MLM on the pretrain corpus, then the detection task, sandwich rule in both (tinydetect.nas.supernet).
"""

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.core.records import load_file
from tinydetect.modeling.model import count_parameters
from tinydetect.modeling.pretraining import unlabelled_texts
from tinydetect.modeling.tokenizer import DetectorTokenizer
from tinydetect.modeling.training import guard_learning
from tinydetect.nas.space import SearchSpace
from tinydetect.nas.supernet import ValScorer, save_supernet, train_supernet


def main() -> None:
    params = load_params("base", "model", "supernet")
    tokenizer = DetectorTokenizer.load("models/tokenizer", max_length=params["model"].max_length)
    train = load_file("data/split/train.jsonl")
    unlabelled, _ = unlabelled_texts("data/unlabelled")
    space = SearchSpace.from_config(params["supernet"])
    supernet, losses = train_supernet(space, params["model"], params["supernet"], tokenizer,
                                      [record.text for record in train] + unlabelled, train, params["base"].seed)
    save_supernet(supernet, "models/supernet")
    score = ValScorer(supernet, tokenizer, load_file("data/split/val.jsonl"))
    largest_val_roc_auc = score(space.largest())
    guard_learning("the SuperNet's largest sub-network", largest_val_roc_auc, params["supernet"].min_val_roc_auc,
                   "supernet.min_val_roc_auc", fail=False,  # the searched pick is trained, and guarded, by `train`
                   details="inherited weights: the search ranks sub-networks by noise. Try a lower "
                   "supernet.learning_rate or more supernet.epochs")
    write_json("metrics/supernet.json", {
        **losses,
        "corpus_texts": len(train) + len(unlabelled),
        "largest": space.largest().label(),
        "smallest": space.smallest().label(),
        "parameters": count_parameters(supernet.detector),
        "val_roc_auc_largest": round(largest_val_roc_auc, 6),  # inherited weights, no further training
        "val_roc_auc_smallest": round(score(space.smallest()), 6),
    })


if __name__ == "__main__":
    exit_on_user_error(main)
