"""Compilers and the simulator: the host `gcc` build, `avr-gcc` for the ATmega328P, `avr-size` and `simavr`.

The AVR tools are Debian packages (`gcc-avr`, `avr-libc`, `simavr`; `make test` and `make repro` install
them where they can). Without them, `avr_tools_missing()` names what is absent and the stage skips the
AVR build and the simulator, saying so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tinydetect.core.errors import UserError

SOURCES = ("tinydetect_flash.h", "tinydetect_mcu.h", "avr_uart.h", "tinydetect_mcu.c", "host_main.c", "avr_firmware.c", "avr_bench.c")
CLOCK_HZ = 16_000_000
UNO_MCU = "atmega328p"
LARGE_MCU = "atmega2560"  # the Arduino Mega: the same AVR core with 256 KB of flash, for models the UNO cannot hold
AVR_TOOLS = ("avr-gcc", "avr-objcopy", "avr-size", "simavr")
_HOST_FLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off")
_AVR_FLAGS = ("-std=gnu99", "-Os", "-Wall", "-Wextra", "-Werror", f"-DF_CPU={CLOCK_HZ}UL")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TEXT_LINE = re.compile(r"text (\d+) (\S+) (\d+) (\d+)")


class ToolchainError(UserError):
    """A compiler or the simulator failed or is missing."""


@dataclass(frozen=True)
class SimulatedText:
    output: str  # as the host binary prints it
    cycles: int
    stack_bytes: int


def copy_sources(target: Path) -> None:
    """The C sources shipped in the package, into `target` (what a user copies into a sketch)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        (target / name).write_text(resources.files("tinydetect.mcu").joinpath("c", name).read_text())


def _run(command: list[str], stdin: bytes | None = None, timeout: float = 600, with_stderr: bool = False) -> str:
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ToolchainError(f"{command[0]} is not installed (Debian: apt-get install gcc gcc-avr avr-libc simavr)") from None
    if done.returncode:
        raise ToolchainError(f"{' '.join(command[:3])} ... failed ({done.returncode}): "
                             f"{done.stderr.decode(errors='replace').strip()[-2000:]}")
    return (done.stdout + (done.stderr if with_stderr else b"")).decode(errors="replace")


def compile_host(sources: Path, model_dir: Path, binary: Path) -> Path:
    """The host build of one model: reads texts on stdin (codegen.host_input), prints one output per line."""
    compiler = shutil.which("gcc") or shutil.which("cc") or "gcc"
    _run([compiler, *_HOST_FLAGS, f"-I{model_dir}", f"-I{sources}", str(sources / "tinydetect_mcu.c"),
          str(sources / "host_main.c"), "-o", str(binary)])
    return binary


def run_host(binary: Path, stdin: bytes) -> list[str]:
    return _run([str(binary)], stdin).split()


def avr_tools_missing() -> list[str]:
    return [tool for tool in AVR_TOOLS if shutil.which(tool) is None]


def compile_avr(sources: Path, include_dirs: list[Path], main: str, mcu: str, elf: Path) -> Path:
    """An AVR build of the model with one of the mains (avr_firmware.c, avr_bench.c)."""
    _run(["avr-gcc", f"-mmcu={mcu}", *_AVR_FLAGS, *(f"-I{path}" for path in [*include_dirs, sources]),
          str(sources / "tinydetect_mcu.c"), str(sources / main), "-o", str(elf)])
    return elf


def write_hex(elf: Path) -> Path:
    """The ELF's flash image as Intel HEX, what avrdude (and the Arduino IDE's uploader) writes to the chip."""
    hex_file = elf.with_suffix(".hex")
    _run(["avr-objcopy", "-O", "ihex", "-R", ".eeprom", str(elf), str(hex_file)])
    return hex_file


def avr_size(elf: Path) -> dict[str, int]:
    """Flash (text + data: initial values live in flash) and static RAM (data + bss) of an ELF, from avr-size.

    >>> parse_avr_size("   text    data     bss     dec     hex filename\\n   1926      36       8    1970     7b2 t.elf\\n")
    {'flash_bytes': 1962, 'sram_static_bytes': 44}
    """
    return parse_avr_size(_run(["avr-size", str(elf)]))


def parse_avr_size(printed: str) -> dict[str, int]:
    text, data, bss = (int(value) for value in printed.strip().splitlines()[1].split()[:3])
    return {"flash_bytes": text + data, "sram_static_bytes": data + bss}


def simulate(elf: Path, mcu: str, texts: int, timeout: float = 600) -> list[SimulatedText]:
    """Run the bench ELF in simavr at 16 MHz; one result per text, in order."""
    # simavr prints the firmware's UART output on stderr
    printed = _ANSI.sub("", _run(["simavr", "-m", mcu, "-f", str(CLOCK_HZ), str(elf)], timeout=timeout, with_stderr=True))
    return parse_simulator(printed, texts)


def parse_simulator(printed: str, texts: int) -> list[SimulatedText]:
    """The harness's "text <index> <output> <cycles> <stack>" lines; all `texts` of them, then "done".

    >>> parse_simulator("Loaded 10 .text\\ntext 0 -37 12000 210.\\ndone.\\n", 1)
    [SimulatedText(output='-37', cycles=12000, stack_bytes=210)]
    """
    results = {int(index): SimulatedText(output, int(cycles), int(stack))
               for index, output, cycles, stack in _TEXT_LINE.findall(printed)}
    if sorted(results) != list(range(texts)) or "done" not in printed:
        raise ToolchainError(f"simavr printed {len(results)} of {texts} results:\n{printed[-1000:]}")
    return [results[index] for index in range(texts)]
