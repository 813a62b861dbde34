"""synth: data/real/*.jsonl -> data/synth/{all_synthetic,<strategy>}.jsonl (AI texts) + metrics/synth.json.

Hosted backends keep every reply in data/synth_cache/requests.jsonl (a persisted DVC
output) before using it, so a rerun after a crash sends only what is missing.
"""

import os

from tinydetect.core.config import STRATEGIES, load_params
from tinydetect.core.errors import UserError, exit_on_user_error
from tinydetect.core.files import write_json, write_jsonl
from tinydetect.core.records import load_dir
from tinydetect.synth.backends import make_backend
from tinydetect.synth.calls import RequestCache
from tinydetect.synth.generation import SynthResult, synthesize

CACHE = "data/synth_cache/requests.jsonl"


def main() -> None:
    params = load_params("base", "synth")
    config, seed = params["synth"], params["base"].seed
    records = load_dir("data/real")
    humans = [record for record in records if record.label == "HUMAN"]
    if config.multiplier == 0 and config.target_size is None:
        result, model = SynthResult(samples=[], rejected={}), None
    else:
        if not humans:
            raise UserError(f"data/real has no HUMAN texts for synth to rewrite ({len(records)} texts, all labelled AI): "
                            "add human texts, or set synth.multiplier: 0 if your data already has both labels")
        backend = make_backend(config, humans)
        secret = os.environ.get(config.server.api_key_env) if config.server else None
        result, model = synthesize(humans, config, backend, seed, RequestCache(CACHE), secret), backend.model
    by_strategy = result.by_strategy()
    for strategy in STRATEGIES:
        write_jsonl(f"data/synth/{strategy}.jsonl", by_strategy.get(strategy, []))
    write_jsonl("data/synth/all_synthetic.jsonl", result.samples)
    if not os.path.exists(CACHE):  # the DVC output exists even when nothing was cached
        write_jsonl(CACHE, [])
    write_json("metrics/synth.json", {"human_sources": len(humans), "backend": config.backend, "model": model,
                                      **result.summary()})


if __name__ == "__main__":
    exit_on_user_error(main)
