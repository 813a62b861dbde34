"""Run a training stage in one process, or in several under torchrun (`train.processes`, `pretrain.processes`).

`python -m tinydetect.core.launch --processes N stages/train.py`: with N = 1 the script runs in this very
process, exactly as `python stages/train.py` would; with N > 1, `torchrun --standalone --nproc_per_node N`
starts N copies of it on this machine (`torch.distributed.run.main` is torchrun's own entry point). The Hugging
Face `Trainer` in each copy finds the others through the environment torchrun sets (RANK, WORLD_SIZE, ...) and
trains with DistributedDataParallel over gloo: the training code is the same in both cases. Several machines:
run torchrun yourself with `--nnodes` (docs/scale.md).
"""

from __future__ import annotations

import argparse
import os
import runpy
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch


def world_size() -> int:
    """How many processes train together (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """The process that writes a stage's outputs: rank 0 (every process ends with the same model)."""
    return int(os.environ.get("RANK", "0")) == 0


def per_process_batch(batch_size: int) -> int:
    """Examples per process per step, so that every process together takes `batch_size` per step, as one would.

    >>> per_process_batch(32)
    32
    """
    return batch_size // world_size()


def distributed_arguments(on_cpu: bool) -> dict:
    """`TrainingArguments` for torchrun: DDP over gloo on CPUs (on GPUs the default, NCCL), checkpoints saved on every
    machine (each loads the best one from its own disk). Alone: none, so a single-process run logs the arguments it
    always did.

    `average_tokens_across_devices` off: with it the Trainer multiplies the loss by the number of processes,
    expecting the model to divide by the tokens of all of them; `BertForMaskedLM` takes the mean over its own
    batch, so under 2 processes the MLM loss (and its gradient) came out twice too large (transformers 5.24).
    """
    if world_size() == 1:
        return {}
    return {"ddp_backend": "gloo" if on_cpu else None, "save_on_each_node": True, "average_tokens_across_devices": False}


@contextmanager
def shared_scratch(prefix: str) -> Iterator[str]:
    """A temporary folder every process of this machine sees under the same name, removed at the end.

    The Trainer saves checkpoints from one process per machine and loads the best one in all of them, so under
    torchrun they need one folder (named after torchrun's run id); alone, it is a plain temporary folder.
    """
    if world_size() == 1:
        with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
            yield scratch
        return
    run_id = os.environ.get("TORCHELASTIC_RUN_ID") or f"{os.environ['MASTER_ADDR']}-{os.environ['MASTER_PORT']}"
    scratch = Path(tempfile.gettempdir()) / f"{prefix}{run_id}"
    scratch.mkdir(exist_ok=True)
    yield str(scratch)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()  # no process may still be reading a checkpoint when it goes
    if int(os.environ.get("LOCAL_RANK", "0")) == 0:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tinydetect.core.launch",
        description="Run a stage script in this process (--processes 1) or in N processes on this machine with "
        "torchrun and the gloo backend (--processes N); the Trainer inside does data-parallel training.",
    )
    parser.add_argument("--processes", type=int, default=1, help="processes to train in (default 1)")
    parser.add_argument("script", help="the stage script, e.g. stages/train.py")
    parser.add_argument("script_arguments", nargs=argparse.REMAINDER, help="passed on to the script")
    arguments = parser.parse_args(argv)
    if arguments.processes < 1:
        parser.error(f"--processes must be at least 1, not {arguments.processes}")
    if arguments.processes == 1:
        sys.argv = [arguments.script, *arguments.script_arguments]
        runpy.run_path(arguments.script, run_name="__main__")
        return
    print(f"{arguments.script}: {arguments.processes} processes (torchrun --standalone, gloo)", file=sys.stderr)
    from torch.distributed import run as torchrun  # imported here: the single-process path never needs it

    torchrun.main(["--standalone", f"--nproc_per_node={arguments.processes}", arguments.script,
                   *arguments.script_arguments])


if __name__ == "__main__":
    main()
