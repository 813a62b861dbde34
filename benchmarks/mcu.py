"""The microcontroller detector on real data: every variant of the mcu stage, measured on the host, avr-size and simavr.

Splits the quality data as the pipeline does (`data.split`, default fractions and seed 42), then runs the mcu
stage's library on it with params.yaml's `mcu` section, once per bucket count in --buckets (512, the default,
first; 128 is the original design's). Per variant: parameters, flash and RAM (avr-size + the simulator's
stack), latency at 16 MHz (simavr cycles), test ROC-AUC, accuracy at the val F1-optimal cut, whether it fits
an UNO, and whether host, simulator and Python reference agree. Writes `benchmarks/results/mcu_<data>.json`.
A minute or two per bucket count on 2 cores.

    python -m benchmarks.mcu --data l2r
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

import torch
import yaml

from benchmarks import REPO_ROOT
from benchmarks._common import commit
from benchmarks.lexical_features import load_split
from benchmarks.quality import DATASETS
from tinydetect.core.config import MCUConfig
from tinydetect.core.files import write_json
from tinydetect.mcu import build, toolchain

SEED = 42
COLUMNS = ("parameters", "flash_bytes", "sram_peak_bytes", "latency_ms_16mhz_mean", "roc_auc", "accuracy", "fits_uno")


def run_config(config: MCUConfig, splits: dict) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        return build.build_all(config, SEED, splits, Path(scratch), with_avr=not toolchain.avr_tools_missing())


def print_table(buckets: int, rows: dict) -> None:
    print(f"\nbuckets {buckets}")
    print(f"{'variant':<8}" + "".join(f"{column:>24}" for column in COLUMNS))
    for name, row in rows.items():
        print(f"{name:<8}" + "".join(f"{row.get(column, '-')!s:>24}" for column in COLUMNS))
    print(f"2-bit loss vs float: {rows['float']['roc_auc'] - rows['int2']['roc_auc']:+.4f} ROC-AUC; "
          f"1-bit: {rows['float']['roc_auc'] - rows['int1']['roc_auc']:+.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=sorted(DATASETS), default="l2r")
    parser.add_argument("--buckets", default="512,256,128", help="bucket counts to run, comma-separated")
    args = parser.parse_args()
    torch.set_num_threads(1)
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())["mcu"]
    splits = load_split(args.data)
    results = {}
    for buckets in map(int, args.buckets.split(",")):
        results[str(buckets)] = run_config(MCUConfig(**{**params, "buckets": buckets}), splits)
        print_table(buckets, results[str(buckets)])
    write_json(REPO_ROOT / "benchmarks" / "results" / f"mcu_{args.data}.json", {
        "data": args.data, "commit": commit(), "date": date.today().isoformat(), "seed": SEED, "params": params,
        "texts": {name: len(records) for name, records in splits.items()},
        "avr": "built and simulated" if not toolchain.avr_tools_missing() else "skipped: AVR tools not installed",
        "by_buckets": results,
    })


if __name__ == "__main__":
    main()
