"""`tinydetect federated server|client`: run in the serving venv, where Flower is installed (requirements-serve.txt)."""

from __future__ import annotations

import argparse
import faulthandler
import signal
import sys

from tinydetect.core.errors import UserError

DESCRIPTION = """Federated averaging of the web page's head on Flower (docs/web.md).

  server: runs the rounds (Flower's FedAvg), serves the page, the web assets and the browsers' API over HTTP
  client: a Python client: trains the head on its own labelled texts and sends only the quantized change
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tinydetect federated", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    from tinydetect.federated import client, server

    server.add_arguments(commands.add_parser("server", help="run the rounds and serve the page and its API"))
    client.add_arguments(commands.add_parser("client", help="join the rounds with labelled texts from a file"))
    args = parser.parse_args(argv)
    # SIGUSR1 prints every thread's stack to stderr: what a process that will not stop is waiting on (the tests send
    # it before they kill one; `kill -USR1 <pid>` for a user)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        (server.serve if args.command == "server" else client.run)(args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
