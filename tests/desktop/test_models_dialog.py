"""The Models dialog against the real backend served in process (llama.cpp, the registry with
discovery, the download queue) and a mock Hugging Face Hub on loopback: a repo found by a
search is downloaded with progress, paused and resumed, used as the default, chats and is
deleted; a model too large is refused with both numbers until the user asks; a model LM Studio
downloaded is listed with its origin, cannot be deleted and is offered on the welcome. Once with
a `hearth serve` the window started, whose restart takes up the new default."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton

from backend.models.hub import TRANSFER_CHUNK_BYTES
from backend.paths import HomeLayout
from backend.settings import Settings
from desktop.main_window import MainWindow
from desktop.models.catalog_page import BADGE_COLOURS, FIT
from desktop.models.download_list import DownloadRow
from desktop.models.models_dialog import ModelsDialog
from tests.backend.conftest import prepare_home
from tests.backend.hub_mock import HubFileSpec, HubMock
from tests.backend.other_apps import OtherApps, other_apps_home
from tests.desktop.conftest import READY_TIMEOUT_MS, REPLY_TIMEOUT_MS, mark_welcome_seen
from tests.desktop.test_chat import stored_messages, type_and_send, wait_for_reply
from tests.desktop.test_screenshots import save, screenshot_dir  # noqa: F401 (a fixture)
from tests.inprocess_backend import ServedApp, serve_services

REPO = "test/Tiny-GGUF"
FILE = "tiny-Q8_0.gguf"
DOWNLOADED = "tiny-Q8_0"
DISCOVERED = "tiny-lms-Q8_0"
HUGE_REPO = "test/Huge-GGUF"  # its listing claims a file no computer's memory holds
HUGE_FILE = "huge-Q4_K_M.gguf"
HELD_BYTES = 2 * TRANSFER_CHUNK_BYTES  # whole chunks, so the backend has counted them all


@pytest.fixture
def hub(tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubMock]:
    """The mock Hub serving the tiny model, its first transfer held midway until `release`."""
    content = tiny_gguf.read_bytes()
    assert len(content) > HELD_BYTES, "the test model must be larger than the bytes held back"
    repos = {
        REPO: [HubFileSpec(FILE, content)],
        HUGE_REPO: [HubFileSpec(HUGE_FILE, content, size=1 << 50)],
    }
    with HubMock(repos, stall_after={FILE: HELD_BYTES}) as mock:
        monkeypatch.setenv("HF_ENDPOINT", mock.url)
        yield mock
        mock.release.set()


@pytest.fixture
def apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_gguf: Path) -> OtherApps:
    """HOME in tmp_path with one model LM Studio downloaded; HF_HOME beside it."""
    apps = other_apps_home(tmp_path / "user", monkeypatch)
    folder = apps.lmstudio / "lmstudio-community" / "Tiny-GGUF"
    folder.mkdir(parents=True)
    shutil.copy(tiny_gguf, folder / f"{DISCOVERED}.gguf")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return apps


@pytest.fixture
def served(hearth_home: Path, tiny_gguf: Path, apps: OtherApps) -> Iterator[ServedApp]:
    """The real services (llama.cpp included) in this process, "tiny" the default model."""
    layout = prepare_home(hearth_home, tiny_gguf, threads=1)
    mark_welcome_seen(layout)
    served = serve_services(layout)
    yield served
    served.stop()


@pytest.fixture
def models_window(
    served: ServedApp,
    hub: HubMock,
    open_window: Callable[[HomeLayout], MainWindow],
    qtbot,  # type: ignore[no-untyped-def]
) -> MainWindow:
    main = open_window(served.layout)
    qtbot.waitUntil(lambda: main.connection.is_ready, timeout=READY_TIMEOUT_MS)
    return main


def click(qtbot, button: QAbstractButton) -> None:  # type: ignore[no-untyped-def]
    assert button.isEnabled(), f"{button.text()} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def cell(dialog_table, name: str, column: int) -> str:  # type: ignore[no-untyped-def]
    row = next(i for i, model in enumerate(dialog_table.models) if model.name == name)
    return str(dialog_table.item(row, column).text())


def only_row(dialog: ModelsDialog) -> DownloadRow:
    [(_job, row)] = dialog.downloads.rows.values()
    return row


def test_a_model_from_lm_studio_is_listed_with_its_origin_not_deletable_and_offered(
    qtbot,  # type: ignore[no-untyped-def]
    models_window: MainWindow,
    served: ServedApp,
    screenshot_dir: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    dialog = models_window.open_models()
    other = dialog.other_apps
    qtbot.waitUntil(lambda: bool(other.table.models), timeout=READY_TIMEOUT_MS)
    assert [model.name for model in other.table.models] == [DISCOVERED]
    assert cell(other.table, DISCOVERED, 1) == "LM Studio"
    assert DISCOVERED not in [model.name for model in dialog.hearths.table.models]
    assert other.table.select_model(DISCOVERED)
    assert not other.delete_button.isEnabled()
    assert "never deletes another app's models" in other.delete_button.toolTip()
    assert other.default_button.isEnabled()

    # The catalog: each entry with its badge and both numbers, from the backend's estimate.
    catalog = dialog.catalog.table
    qtbot.waitUntil(lambda: bool(catalog.entries), timeout=READY_TIMEOUT_MS)
    for row, entry in enumerate(catalog.entries):
        badge = catalog.item(row, FIT)
        assert re.fullmatch(
            rf"{entry.fit.badge}\nneeds [\d.]+ [MG]B, has [\d.]+ [MG]B", badge.text()
        )
        assert badge.background().color().name() == BADGE_COLOURS[entry.fit.badge]
    save(dialog, screenshot_dir / "models-installed.png")
    dialog.tabs.setCurrentWidget(dialog.catalog)
    save(dialog, screenshot_dir / "models-catalog.png")

    # The welcome offers it when the default is a tiny shipped model (here "tiny" stands in).
    shipped = [
        model.model_copy(update={"source": "shipped"}) if model.name == "tiny" else model
        for model in models_window.models
    ]
    models_window.welcome.offer(shipped, "tiny")
    assert not models_window.welcome.offer_button.isHidden()
    assert models_window.welcome.offer_button.text() == f"Use {DISCOVERED} from LM Studio"
    assert "tiny demonstration model" in models_window.welcome.text.text()
    click(qtbot, models_window.welcome.offer_button)
    qtbot.waitUntil(lambda: Settings.load(served.layout).default_model == DISCOVERED)
    assert models_window.welcome.offer_button.isHidden()  # the default is no longer shipped
    assert "tiny demonstration model" not in models_window.welcome.text.text()


def test_a_download_shows_progress_pauses_resumes_and_the_new_model_answers_a_chat(
    qtbot,  # type: ignore[no-untyped-def]
    models_window: MainWindow,
    served: ServedApp,
    hub: HubMock,
) -> None:
    dialog = models_window.open_models()
    catalog = dialog.catalog
    dialog.tabs.setCurrentWidget(catalog)

    # A repo the Hub does not have: the backend's message, in the dialog.
    hub_picker = catalog.hub
    qtbot.keyClicks(hub_picker.field, "nobody/missing")
    click(qtbot, hub_picker.find_button)
    qtbot.waitUntil(dialog.problem.isVisible, timeout=READY_TIMEOUT_MS)
    assert "nobody/missing" in dialog.problem.text()

    # Searched for by name: the repo found is listed, then its models.
    hub_picker.field.clear()
    qtbot.keyClicks(hub_picker.field, "tiny")
    click(qtbot, hub_picker.find_button)
    qtbot.waitUntil(hub_picker.download_button.isEnabled, timeout=READY_TIMEOUT_MS)
    assert hub_picker.repos.currentData() == REPO
    assert FILE in hub_picker.choices.currentText() and "Q8_0" in hub_picker.choices.currentText()
    assert dialog.problem.isHidden()
    click(qtbot, hub_picker.download_button)

    # Midway (the Hub holds the rest back): the bar and the numbers show it.
    row = only_row(dialog)
    qtbot.waitUntil(lambda: 0 < row.bar.value() < 100, timeout=READY_TIMEOUT_MS)
    assert f"{REPO}: " in row.detail.text() and " of " in row.detail.text()
    click(qtbot, row.pause_button)
    qtbot.waitUntil(lambda: row.detail.text().endswith("pausing"), timeout=READY_TIMEOUT_MS)
    hub.release.set()  # the next chunk finds the download cancelled
    qtbot.waitUntil(lambda: row.pause_button.text() == "Resume", timeout=READY_TIMEOUT_MS)
    assert "paused" in row.detail.text()
    assert DOWNLOADED not in [model.name for model in dialog.hearths.table.models]

    click(qtbot, row.pause_button)  # Resume: the backend carries on from the partial file
    qtbot.waitUntil(lambda: "installed" in row.detail.text(), timeout=REPLY_TIMEOUT_MS)
    assert row.bar.value() == 100
    first, resumed = hub.file_gets(FILE)
    assert "Range" not in first.headers
    start = int(resumed.headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= HELD_BYTES

    # Installed, with where it came from; Hearth downloaded it, so it may delete it.
    hearths = dialog.hearths
    qtbot.waitUntil(lambda: hearths.table.select_model(DOWNLOADED), timeout=READY_TIMEOUT_MS)
    assert cell(hearths.table, DOWNLOADED, 1) == f"Downloaded by Hearth ({REPO})"
    assert hearths.delete_button.isEnabled()

    # Its own settings, stored by the backend and shown again.
    hearths.settings.spins["threads"].setValue(1)
    click(qtbot, hearths.settings.save_button)
    qtbot.waitUntil(
        lambda: (
            hearths.table.selected() is not None and hearths.table.selected().settings.threads == 1
        ),  # type: ignore[union-attr]
        timeout=READY_TIMEOUT_MS,
    )

    click(qtbot, hearths.default_button)
    picker = models_window.chat_view.model_picker
    qtbot.waitUntil(lambda: picker.itemText(0) == f"Default ({DOWNLOADED})")
    qtbot.waitUntil(lambda: Settings.load(served.layout).default_model == DOWNLOADED)
    assert cell(hearths.table, DOWNLOADED, 0) == f"{DOWNLOADED}  (default)"

    # The engine in this process was running before the window, so it keeps its settings
    # until restarted: the chat names the new model in the picker, as a user may.
    dialog.close()
    index = picker.findData(DOWNLOADED)
    assert index > 0
    picker.setCurrentIndex(index)
    picker.activated.emit(index)
    type_and_send(qtbot, models_window, "Hello")
    wait_for_reply(qtbot, models_window)
    reply = models_window.chat_view.views[-1].message
    assert (reply.status, reply.model) == ("complete", DOWNLOADED)
    assert stored_messages(models_window)[-1]["model"] == DOWNLOADED

    # Hearth downloaded it, so it may delete it (the confirmation is Qt's own question box).
    dialog.delete(DOWNLOADED)
    qtbot.waitUntil(
        lambda: DOWNLOADED not in [model.name for model in hearths.table.models],
        timeout=READY_TIMEOUT_MS,
    )
    assert not list((served.layout.models / "downloaded").rglob("*.gguf"))
    assert dialog.problem.isHidden()


def test_a_model_too_large_for_memory_is_refused_with_both_numbers_then_fetched_if_asked(
    qtbot,  # type: ignore[no-untyped-def]
    models_window: MainWindow,
    hub: HubMock,
) -> None:
    dialog = models_window.open_models()
    hub_picker = dialog.catalog.hub
    qtbot.keyClicks(hub_picker.field, HUGE_REPO)
    click(qtbot, hub_picker.find_button)
    qtbot.waitUntil(hub_picker.download_button.isEnabled, timeout=READY_TIMEOUT_MS)
    assert "1048576.0 GB" in hub_picker.choices.currentText()  # the size the listing claims
    click(qtbot, hub_picker.download_button)

    row = only_row(dialog)
    qtbot.waitUntil(lambda: row.pause_button.text() == "Download anyway", timeout=READY_TIMEOUT_MS)
    assert re.search(
        r"needs about [\d.]+ GiB of RAM.*only [\d.]+ GiB is available", row.detail.text()
    )

    # Asked to go ahead, the backend passes the memory check; the disk's free space stops it.
    click(qtbot, row.pause_button)
    qtbot.waitUntil(lambda: row.detail.text().startswith("Failed:"), timeout=READY_TIMEOUT_MS)
    assert "disk space" in row.detail.text() and "RAM" not in row.detail.text()
    assert "disk space" in dialog.problem.text()
    assert not hub.file_gets(), "not a byte was fetched"


def test_use_as_default_restarts_the_engine_the_app_started_and_new_chats_use_the_model(
    qtbot,  # type: ignore[no-untyped-def]
    hearth_home: Path,
    tiny_gguf: Path,
    apps: OtherApps,
    hub: HubMock,
    open_window: Callable[[HomeLayout], MainWindow],
) -> None:
    """With a `hearth serve` the window started itself (HF_ENDPOINT reaches it by inheritance)."""
    hub.release.set()  # no pause here: the transfer runs through
    layout = prepare_home(hearth_home, tiny_gguf, threads=1)
    mark_welcome_seen(layout)
    window = open_window(layout)
    qtbot.waitUntil(lambda: window.connection.is_ready, timeout=READY_TIMEOUT_MS)
    first_engine = window.connection.child_pid
    assert first_engine is not None, "the window started its own engine"

    dialog = window.open_models()
    qtbot.keyClicks(dialog.catalog.hub.field, REPO)
    click(qtbot, dialog.catalog.hub.find_button)
    qtbot.waitUntil(dialog.catalog.hub.download_button.isEnabled, timeout=READY_TIMEOUT_MS)
    click(qtbot, dialog.catalog.hub.download_button)
    row = only_row(dialog)
    qtbot.waitUntil(lambda: "installed" in row.detail.text(), timeout=REPLY_TIMEOUT_MS)
    qtbot.waitUntil(lambda: dialog.hearths.table.select_model(DOWNLOADED), timeout=READY_TIMEOUT_MS)
    click(qtbot, dialog.hearths.default_button)

    def restarted() -> bool:
        connection = window.connection
        return connection.is_ready and connection.child_pid not in (None, first_engine)

    qtbot.waitUntil(restarted, timeout=READY_TIMEOUT_MS)
    dialog.close()
    type_and_send(qtbot, window, "Hello")  # the picker left at "Default"
    wait_for_reply(qtbot, window)
    reply = window.chat_view.views[-1].message
    assert (reply.status, reply.model) == ("complete", DOWNLOADED)
