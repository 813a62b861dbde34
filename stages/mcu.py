"""mcu: data/split -> models/mcu (C sources, a header per variant, host and AVR builds) + metrics/mcu.json + plots/mcu.

Trains the hashed n-gram MLP (float), prunes it, trains 2-bit and 1-bit copies, exports each to C, checks
the host build against the Python reference on every test text and, where gcc-avr and simavr are
installed, the simulator against the host build; fails if a 2-bit or 1-bit model exceeds the UNO budget.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import torch

from tinydetect.core.config import load_params
from tinydetect.core.errors import UserError, exit_on_user_error
from tinydetect.core.files import write_json
from tinydetect.core.records import load_file
from tinydetect.evaluation.plots import write_csv
from tinydetect.mcu import build, toolchain

OUT = Path("models/mcu")


def replace_folder(built: Path, target: Path) -> None:
    """Move a finished build into place; the old folder goes only once the new one is complete."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(built, target)
    shutil.rmtree(old, ignore_errors=True)


def main() -> None:
    params = load_params("base", "mcu")
    config, seed = params["mcu"], params["base"].seed
    torch.set_num_threads(1)  # tiny matrices: threads only add noise to the float sums
    records = {name: load_file(f"data/split/{name}.jsonl") for name in ("train", "val", "test")}
    missing = toolchain.avr_tools_missing()
    if missing:
        print(f"mcu: {', '.join(missing)} not installed: skipping the AVR build and the simulator "
              "(Debian: apt-get install gcc-avr avr-libc simavr; `make repro` does it where it can)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT.parent, prefix=".mcu.") as scratch:
        built = Path(scratch) / "mcu"
        rows = build.build_all(config, seed, records, built, with_avr=not missing)
        problems = build.over_budget(rows, config)
        if problems:
            raise UserError("params.yaml mcu: the quantized models do not fit the UNO: " + "; ".join(problems))
        replace_folder(built, OUT)
    for name, row in rows.items():
        print(f"mcu {name}: {row}")
    write_json("metrics/mcu.json", {"avr": f"skipped: {', '.join(missing)} not installed" if missing else "built and simulated",
                                    **rows})
    write_csv(Path("plots/mcu/variants.csv"), pd.DataFrame(
        [{"variant": name, "model_kb": round(row["model_bytes"] / 1024, 3), "roc_auc": row["roc_auc"]}
         for name, row in rows.items()]))


if __name__ == "__main__":
    exit_on_user_error(main)
