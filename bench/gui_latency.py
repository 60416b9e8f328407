"""GUI responsiveness: the longest stall of the Qt event loop while a long answer streams and a
folder of documents is indexed, against the same probe on an idle window; and the time from
process start to the main window's first paint (and to the first paint of its views, which
come after it), against a bare PySide6 QMainWindow.

    .venv/bin/python bench/gui_latency.py [--documents 300] [--idle-seconds 5] [--rounds 5]

It runs the real app (`desktop.app`) against a real `hearth serve` in a temporary HEARTH_HOME,
with the default chat model. Without a display it uses Qt's offscreen platform.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROBE_MS = 5
LONG_QUESTION = (
    "Write a long, detailed essay on the history of bread: its origins, the grains, ovens, "
    "guilds, the industrial age and bread today, with a heading for each part."
)

# First paint ---------------------------------------------------------------------------------


def first_paint_child(kind: str) -> None:
    """Runs in a fresh process: prints the wall time of the first paint event and, for Hearth,
    of the first paint of the views (the conversation list), then quits. For Hearth it runs
    what `python -m desktop` runs."""
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication(sys.argv)

    class FirstPaint(QObject):
        seen: set[str] = set()

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() != QEvent.Type.Paint:
                return False
            what = "views" if type(watched).__name__ == "ConversationList" else "painted"
            if what not in self.seen:
                self.seen.add(what)
                print(f"{what} {time.time():.6f}", flush=True)
                if kind == "bare" or what == "views":
                    QTimer.singleShot(0, app.quit)
            return False

    probe = FirstPaint()
    app.installEventFilter(probe)
    if kind == "bare":
        window = QMainWindow()
        window.resize(1100, 720)
        window.show()
        app.exec()
        return
    from desktop.app import main  # imported here: its import time is part of what is measured

    main()


def time_first_paint(kind: str, home: Path) -> dict[str, float]:
    """Seconds from starting the process to each paint the child reports."""
    env = os.environ | {"HEARTH_HOME": str(home)}
    started = time.time()
    out = subprocess.run(
        [sys.executable, __file__, "--first-paint", kind],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return {
        what: float(stamp) - started
        for what, stamp in (line.split() for line in out.splitlines())
        if what in ("painted", "views")
    }


# Event-loop stalls ---------------------------------------------------------------------------


class StallProbe:
    """A precise 5 ms timer; each gap beyond the interval is time the event loop was busy."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(PROBE_MS)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self._last) * 1000 - PROBE_MS)
        self._last = now

    def measure(self, seconds: float, done: Callable[[], bool] = lambda: False) -> Stalls:
        """Runs the event loop for `seconds` (or until `done()`), probing it all the while."""
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        check = QTimer()
        check.timeout.connect(lambda: done() and loop.quit())
        check.start(100)
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        self.gaps = []
        self._last = time.perf_counter()
        self._timer.start()
        loop.exec()
        self._timer.stop()
        check.stop()
        return Stalls.of(self.gaps)


@dataclass
class Stalls:
    longest: float
    p99: float
    over_50: int

    @classmethod
    def of(cls, gaps: list[float]) -> Stalls:
        ordered = sorted(gaps)
        return cls(ordered[-1], ordered[int(len(ordered) * 0.99)], sum(g > 50 for g in gaps))

    def __str__(self) -> str:
        return f"longest {self.longest:.1f} ms, p99 {self.p99:.1f} ms, {self.over_50} over 50 ms"


def control_probe_child(seconds: float) -> None:
    """A bare window probed in its own process at the same time: what the machine's load alone
    does to an event loop that has nothing to do."""
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication(sys.argv)
    window = QMainWindow()
    window.show()
    stalls = StallProbe().measure(seconds)
    print(f"{stalls.longest} {stalls.p99} {stalls.over_50}", flush=True)
    app.quit()


def write_documents(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True)
    for number in range(count):
        paragraphs = [
            f"Note {number}, part {p}: the allotment committee agreed to plant {number % 9 + p} "
            f"rows of beans near gate {p}, to water them at dawn and to share the harvest."
            for p in range(4)
        ]
        (folder / f"note-{number:03d}.md").write_text(
            f"# Note {number}\n\n" + "\n\n".join(paragraphs)
        )
    return folder


def measure_stalls(home: Path, documents: int, idle_s: float, busy_s: float) -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication

    from backend.paths import HomeLayout
    from desktop.app import build_window

    app = QApplication.instance() or QApplication(sys.argv)
    window = build_window(app, HomeLayout(home))
    window.show()
    window.connection.start()
    probe = StallProbe()
    probe.measure(120, lambda: window.connection.is_ready)
    idle = probe.measure(idle_s)

    folder = write_documents(home.parent / "documents", documents)
    session, queue = window.session, window.documents.queue
    tokens: list[str] = []
    session.token_received.connect(tokens.append)
    control = subprocess.Popen(
        [sys.executable, __file__, "--control-probe", str(busy_s)],
        stdout=subprocess.PIPE,
        text=True,
    )
    window.documents.add_folders("bench", [str(folder)])

    asked = [False]  # a question is on its way: the chat is being created or the reply starts

    def keep_streaming() -> bool:
        """A new question whenever a reply ends, so streaming overlaps the indexing."""
        if session.generating:
            asked[0] = False
        elif not asked[0]:
            asked[0] = True
            session.send(LONG_QUESTION)
        return False

    busy = probe.measure(busy_s, keep_streaming)
    longest, p99, over_50 = control.communicate(timeout=60)[0].split()
    bare = Stalls(float(longest), float(p99), int(over_50))
    files = queue.progress.files_done if queue.progress else 0
    session.stop()
    queue.pause()
    window.close()
    window.connection.shutdown()
    return {"idle": idle, "busy": busy, "bare": bare, "tokens": len(tokens), "files": files}


def main() -> None:
    from backend.paths import HomeLayout

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="smollm2-135m-instruct", help="the chat model")
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--busy-seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--first-paint", choices=["hearth", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--control-probe", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.first_paint:
        first_paint_child(args.first_paint)
        return
    if args.control_probe:
        control_probe_child(args.control_probe)
        return
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        HomeLayout(home).ensure()
        (home / "settings.json").write_text(json.dumps({"default_model": args.model}))
        paints: dict[str, list[float]] = {"bare": [], "hearth": [], "views": []}
        for _ in range(args.rounds):  # alternating, so load on the machine hits both alike
            for kind in ("bare", "hearth"):
                times = time_first_paint(kind, home)
                paints[kind].append(times["painted"] * 1000)
                if "views" in times:
                    paints["views"].append(times["views"] * 1000)
        bare, hearth, views = (statistics.median(paints[k]) for k in ("bare", "hearth", "views"))
        print(
            f"first paint, median of {args.rounds}: bare QMainWindow {bare:.0f} ms, "
            f"Hearth {hearth:.0f} ms, ratio {hearth / bare:.2f} (target <= 1.5); "
            f"Hearth's views painted at {views:.0f} ms"
        )
        stalls = measure_stalls(home, args.documents, args.idle_seconds, args.busy_seconds)
    print(f"idle Hearth window, {args.idle_seconds:.0f} s: {stalls['idle']}")
    print(
        f"Hearth streaming {stalls['tokens']} tokens while indexing ({stalls['files']} of "
        f"{args.documents} files done in {args.busy_seconds:.0f} s): {stalls['busy']}"
    )
    print(f"bare QMainWindow in another process, same {args.busy_seconds:.0f} s: {stalls['bare']}")


if __name__ == "__main__":
    main()
