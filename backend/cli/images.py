"""`hearth images`: label and search your images (not built yet; see the project's open issues)."""

from __future__ import annotations

import argparse

from backend.cli.output import fail


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("images", help="label and search your images (coming soon)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return fail("'hearth images' is not available in this version yet", code=2)
