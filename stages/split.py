"""split: data/real + data/synth -> data/split/{train,val,test}.jsonl + metrics/split.json."""

from tinydetect.core.config import load_params
from tinydetect.core.errors import exit_on_user_error
from tinydetect.core.files import write_json, write_jsonl
from tinydetect.core.records import load_dir, load_file
from tinydetect.data.split import split_records, split_summary


def main() -> None:
    params = load_params("base", "split")
    records = load_dir("data/real") + load_file("data/synth/all_synthetic.jsonl")
    splits = split_records(records, params["split"], params["base"].seed)
    for name, split in splits.items():
        write_jsonl(f"data/split/{name}.jsonl", (record.to_row() for record in split))
    write_json("metrics/split.json", split_summary(splits))


if __name__ == "__main__":
    exit_on_user_error(main)
