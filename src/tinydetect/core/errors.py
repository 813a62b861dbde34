"""Errors caused by the user's input or settings: shown as one clear line, no traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable


class UserError(ValueError):
    """Bad data, bad params or an impossible request; the message says where and what."""

    exit_code = 2


def first_line(error: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0][:200]}" if message else type(error).__name__


def exit_on_user_error(main: Callable[[], None]) -> None:
    """Run a stage's `main`; a UserError prints `error: ...` and exits with its code (2) with nothing written.

    Ctrl-C exits with 130 and a line instead of a traceback: outputs are written atomically, so
    an interrupted stage leaves the previous ones (or none), never half a file.
    """
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        sys.exit(130)
