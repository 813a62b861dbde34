"""The `tinydetect` command (`tinydetect --help`)."""

from tinydetect.cli.main import main

__all__ = ["main"]
