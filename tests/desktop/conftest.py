"""Desktop fixtures: the main window around the real backend app served in process with a
scripted model (`window`), or around a real `hearth serve` with a real test model
(`served_window`), where the process or the model is the subject."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtWidgets import QApplication

from backend.images.service import ImageService
from backend.paths import HomeLayout
from desktop.app import build_window
from desktop.main_window import MainWindow
from desktop.window_state import WindowState
from tests.backend.conftest import (  # noqa: F401 (fixtures)
    TinyClip,
    prepare_home,
    tiny_clip,
    tiny_gguf,
)
from tests.backend.fakes import FakeProvider
from tests.inprocess_backend import InProcessBackend, serve_in_process
from training.testing import build_tiny_gguf

READY_TIMEOUT_MS = 30_000
REPLY_TIMEOUT_MS = 30_000
# The scripted model's reply: more tokens than one render of the streamed text takes in.
REPLY_TOKENS = ("Pack", " light", ",", " layer", " up", ",", " and", " bring", " a", " map", ".")


@pytest.fixture(scope="session")
def paced_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight decoder like training.testing's tiny one, but wide enough that a reply
    takes about a second: long enough to kill the backend in the middle of it."""
    path = tmp_path_factory.mktemp("models") / "paced.gguf"
    return build_tiny_gguf(path, hidden_size=512, num_layers=4)


@pytest.fixture
def home(hearth_home: Path, paced_gguf: Path) -> HomeLayout:
    """HEARTH_HOME (set by the root conftest) holding the paced model as the default."""
    layout = prepare_home(hearth_home, paced_gguf, threads=1, context_size=256)
    mark_welcome_seen(layout)
    return layout


def mark_welcome_seen(layout: HomeLayout) -> None:
    state = WindowState(layout)
    state.mark_welcome_seen()
    state.sync()


@pytest.fixture
def fake_backend(
    hearth_home: Path,
    tiny_gguf: Path,  # noqa: F811 (the fixture imported above)
) -> Iterator[InProcessBackend]:
    """The real backend app in this process, its model scripted; the tiny GGUF is only listed
    (the model picker shows it), never loaded."""
    backend = serve_scripted(hearth_home, tiny_gguf)
    yield backend
    backend.stop()
    backend.provider.close()


@pytest.fixture
def image_backend(
    hearth_home: Path,
    tiny_gguf: Path,  # noqa: F811 (the fixture imported above)
    tiny_clip: TinyClip,  # noqa: F811 (the fixture imported above)
) -> Iterator[InProcessBackend]:
    """`fake_backend` with the real image service and the tiny random CLIP (random labels are
    fine for the GUI): images are labelled, attached and searched for real."""
    tiny_clip.install(hearth_home)
    backend = serve_scripted(hearth_home, tiny_gguf, image_model=tiny_clip.name)
    services = backend.services
    services.images = ImageService(backend.layout, services.settings, services.vectors)
    yield backend
    backend.stop()
    backend.provider.close()


def serve_scripted(home: Path, model: Path, **settings: object) -> InProcessBackend:
    """Serve `home` in process with the scripted model, `model` listed as "tiny"."""
    HomeLayout(home).ensure()
    shutil.copy(model, HomeLayout(home).models / "tiny.gguf")
    provider = FakeProvider(models=("tiny",), tokens=REPLY_TOKENS)
    backend = serve_in_process(home, provider, documents_model="tiny", **settings)
    mark_welcome_seen(backend.layout)
    return backend


@pytest.fixture
def open_window(qapp: QApplication) -> Iterator[Callable[[HomeLayout], MainWindow]]:
    """Opens main windows the way `python -m desktop` does; closes them and their backends."""
    opened: list[MainWindow] = []

    def open_one(layout: HomeLayout) -> MainWindow:
        window = build_window(qapp, layout)
        window.show()
        window.connection.start()
        opened.append(window)
        return window

    yield open_one
    for window in opened:
        connection = window.connection
        if shiboken6.isValid(window):  # a test may already have closed and deleted it
            window.close()
            window.deleteLater()
        connection.shutdown()
    QApplication.processEvents()


@pytest.fixture
def window(
    fake_backend: InProcessBackend,
    open_window: Callable[[HomeLayout], MainWindow],
    qtbot,  # type: ignore[no-untyped-def]
) -> MainWindow:
    """A main window connected to the in-process backend."""
    main = open_window(fake_backend.layout)
    qtbot.waitUntil(lambda: main.connection.is_ready, timeout=READY_TIMEOUT_MS)
    return main


@pytest.fixture
def served_window(
    home: HomeLayout,
    open_window: Callable[[HomeLayout], MainWindow],
    qtbot,  # type: ignore[no-untyped-def]
) -> MainWindow:
    """A main window whose own `hearth serve` child is up, serving the paced model."""
    main = open_window(home)
    qtbot.waitUntil(lambda: main.connection.is_ready, timeout=READY_TIMEOUT_MS)
    return main


@pytest.fixture
def offline_window(qapp: QApplication, hearth_home: Path) -> Iterator[MainWindow]:
    """A window whose backend is never started, for layout, keyboard and screenshot tests."""
    window = build_window(qapp, HomeLayout(hearth_home))
    window.resize(1100, 720)
    window.show()
    yield window
    if shiboken6.isValid(window):
        window.close()
        window.deleteLater()
    window.theme.apply("light")
    QApplication.processEvents()
