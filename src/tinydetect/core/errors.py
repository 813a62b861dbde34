"""Errors caused by the user's input or settings: shown as one clear line, no traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable


class UserError(ValueError):
    """Bad data, bad params or an impossible request; the message says where and what."""


def exit_on_user_error(main: Callable[[], None]) -> None:
    """Run a stage's `main`; a UserError prints `error: ...` and exits 2 with nothing written."""
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
