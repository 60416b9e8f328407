"""`hearth serve`: run the engine and its local API."""

from __future__ import annotations

import argparse

from backend.cli.arguments import port_number


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("serve", help="run the engine and its local API (127.0.0.1 only)")
    parser.add_argument(
        "--port",
        type=port_number,
        default=None,
        help="port to bind, or 0 for a free one (default: the `port` setting, 8765 unless "
        "changed, or a free one when that is taken)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from backend.server.main import serve

    serve(port=args.port)
    return 0
