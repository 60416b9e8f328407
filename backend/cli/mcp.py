"""`hearth mcp`: a Model Context Protocol server on stdio, so that other agents can search and ask
Hearth's documents and images (the tools are in backend/mcp_server)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.mcp_server.link import BackendLink


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "mcp",
        help="serve your documents and images to other agents (Model Context Protocol on stdio)",
        description='For an MCP client\'s configuration: command `hearth`, args ["mcp"]. Uses the '
        "running backend, or starts one on the first tool call and stops it on exit.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from backend.logs import configure_logging
    from backend.mcp_server.link import BackendLink
    from backend.mcp_server.tools import build_server
    from backend.paths import HomeLayout

    layout = HomeLayout.current().ensure()
    # Hearth's handlers first: the SDK then adds none of its own. stdout is the protocol's.
    configure_logging("mcp", layout)
    problems = logging.StreamHandler(sys.stderr)  # an agent's host shows a server's stderr
    problems.setLevel(logging.WARNING)
    logging.getLogger().addHandler(problems)
    link = BackendLink(layout)
    with _stopping_backend_on_termination(link):
        try:
            build_server(link).run("stdio")
        finally:
            link.close()
    return 0


@contextmanager
def _stopping_backend_on_termination(link: BackendLink) -> Iterator[None]:
    """A host ends its servers with SIGTERM (or a closed terminal, SIGHUP), which would end
    Python at once and orphan the backend this server started: stop it first, then exit.
    SystemExit would not do: unwinding waits for the thread blocked reading stdin."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        link.close()
        logging.shutdown()
        os._exit(128 + signum)

    signums = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {signum: signal.signal(signum, stop) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
