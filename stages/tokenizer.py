"""tokenizer: data/split/train.jsonl -> models/tokenizer/ (SentencePiece, train split only)."""

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.records import load_file
from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece


def main() -> None:
    params = load_params("base", "tokenizer", "model")
    train_texts = [record.text for record in load_file("data/split/train.jsonl")]
    model_proto = train_sentencepiece(train_texts, params["tokenizer"], params["base"].seed)
    DetectorTokenizer(model_proto, max_length=params["model"].max_length).save("models/tokenizer")


if __name__ == "__main__":
    exit_on_user_error(main)
