"""`hearth ARGS` run in this process, for tests whose subject is what the command prints and its
exit status: a subprocess costs a Python start-up and the imports (1-2.5 s) per call. Tests
about the process itself run the installed command with `run_installed_hearth`, which reports
the same `Result`.

It calls the installed entry point (pyproject's `hearth = "backend.cli:main"`) as the console
script does, and checks that the command left this process as it found it: environment,
working folder, logging handlers and signal handlers.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.cli import main

HEARTH = str(Path(sys.executable).with_name("hearth"))  # the console script pip installed
WATCHED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@dataclass(frozen=True)
class Result:
    """What a subprocess run would report: the exit status and the two streams."""

    code: int
    out: str
    err: str


def run_hearth(*args: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    before = _process_state()
    umask = os.umask(0o077)  # the CLI makes its process's files private: undone after it
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's refusals (status 2), as sys.exit would end
            code = _exit_status(exit_.code)
        finally:
            os.umask(umask)
    assert _process_state() == before, f"hearth {' '.join(args)} changed this process's state"
    return Result(code, out.getvalue(), err.getvalue())


def run_installed_hearth(*args: str, timeout: float = 120) -> Result:
    done = subprocess.run([HEARTH, *args], capture_output=True, text=True, timeout=timeout)
    return Result(done.returncode, done.stdout, done.stderr)


def _exit_status(code: object) -> int:
    """The status `sys.exit(code)` gives the process: None is success, a message is 1."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _process_state() -> dict[str, Any]:
    return {
        "environment": dict(os.environ),
        "cwd": os.getcwd(),
        "logging": list(logging.getLogger().handlers),
        "level": logging.getLogger().level,
        "signals": [signal.getsignal(s) for s in WATCHED_SIGNALS],
    }
