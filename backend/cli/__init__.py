"""The `hearth` command: one parser, one module per subcommand, heavy imports deferred."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from backend import __version__

# Each name is a module in this package exposing `register(subparsers)`.
SUBCOMMANDS = ("serve", "chat", "docs", "images", "models")


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.self_test:
        from backend.selftest import run_self_test

        return run_self_test()
    if args.command is None:
        return open_app()
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
