"""synth: data/real/*.jsonl -> data/synth/all_synthetic.jsonl (AI texts) + metrics/synth.json."""

from tinydetect.backends import make_backend
from tinydetect.config import load_params
from tinydetect.errors import exit_on_user_error
from tinydetect.io import write_json, write_jsonl
from tinydetect.records import load_dir
from tinydetect.synth import SynthResult, synthesize


def main() -> None:
    params = load_params()
    config, seed = params["synth"], params["base"].seed
    humans = [record for record in load_dir("data/real") if record.label == "HUMAN"]
    if config.multiplier == 0 and config.target_size is None:
        result = SynthResult(samples=[], rejected={})
    else:
        result = synthesize(humans, config, make_backend(config, humans), seed)
    write_jsonl("data/synth/all_synthetic.jsonl", result.samples)
    write_json("metrics/synth.json", {"human_sources": len(humans), "backend": config.backend, **result.summary()})


if __name__ == "__main__":
    exit_on_user_error(main)
