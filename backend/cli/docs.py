"""`hearth docs`: chat with your document folders (not built yet; see the project's open issues)."""

from __future__ import annotations

import argparse

from backend.cli.output import fail


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("docs", help="chat with your document folders (coming soon)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return fail("'hearth docs' is not available in this version yet", code=2)
