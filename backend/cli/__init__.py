"""The `hearth` command: one parser, one module per subcommand, heavy imports deferred."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from backend import __version__
from backend.cli.output import fail
from backend.errors import HearthError
from backend.paths import start_private

# Each name is a module in this package exposing `register(subparsers)`.
SUBCOMMANDS = ("serve", "chat", "docs", "images", "models", "mcp")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hearth",
        description="Hearth: a private, offline assistant. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"hearth {__version__}")
    parser.add_argument(
        "--self-test", action="store_true", help="check the whole offline flow, then exit"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"backend.cli.{name}").register(commands)
    return parser


def open_app() -> int:
    """Replace this process with the GUI; the backend never imports the desktop package."""
    os.execv(sys.executable, [sys.executable, "-m", "desktop"])
    return 0  # pragma: no cover - execv does not return


def _backend_error() -> type[Exception]:
    """The client's error, imported only once something is raised: httpx is slow to import."""
    from backend.client import BackendError

    return BackendError


def _explain(error: Exception) -> str:
    if isinstance(error, OSError) and error.filename and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error)


def run_command(args: argparse.Namespace) -> int:
    """Run a subcommand; a user's mistake or Ctrl-C ends it with one line, not a traceback."""
    try:
        result: int = args.handler(args)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except (HearthError, OSError, _backend_error()) as error:  # others are bugs: a traceback
        return fail(_explain(error))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    start_private()  # before anything is written; the GUI and `hearth serve` inherit the umask
    if args.self_test:
        from backend.selftest import run_self_test

        return run_self_test()
    if args.command is None:
        return open_app()
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
