"""`python -m tinydetect ...` runs the `tinydetect` command."""

from tinydetect.cli import main

main()
