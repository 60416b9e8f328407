"""A chat exported from the window to Markdown and JSON, and imported back (issue #20)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QDir
from PySide6.QtWidgets import QFileDialog

from desktop.chat_files import suggested_name
from desktop.main_window import MainWindow
from tests.desktop.test_chat import type_and_send, wait_for_reply


def test_a_chat_exports_to_markdown_and_json_and_the_json_imports_back(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    tmp_path: Path,
) -> None:
    type_and_send(qtbot, window, "Which radiator is cold?")
    wait_for_reply(qtbot, window)
    reply = window.chat_view.views[-1].text
    markdown, exported = tmp_path / "chat.md", tmp_path / "chat.json"
    window.export_chat(markdown)
    qtbot.waitUntil(markdown.exists)
    text = markdown.read_text(encoding="utf-8")
    assert "## You\n\nWhich radiator is cold?" in text and reply.strip() in text
    assert "Exported" in window.statusBar().currentMessage()
    window.export_chat(exported)
    qtbot.waitUntil(exported.exists)
    assert json.loads(exported.read_text(encoding="utf-8"))["format"] == "hearth-chat"

    window.import_chats(exported)
    qtbot.waitUntil(lambda: window.conversations.list.count() == 2)
    assert window.statusBar().currentMessage() == "Imported 1 chat"


def test_a_file_that_is_not_json_is_refused_in_the_status_bar(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text("not json at all")
    window.import_chats(notes)  # read on a worker, as a large export would stall the window
    qtbot.waitUntil(lambda: "Could not import" in window.statusBar().currentMessage())
    assert (
        window.statusBar().currentMessage().startswith("Could not import: notes.json is not JSON")
    )


def test_a_title_becomes_a_file_name_every_system_accepts() -> None:
    assert suggested_name('Q3: "budget" / plan?') == "Q3 budget plan.md"
    assert suggested_name("::") == "chat.md"


def test_the_menu_entries_ask_for_a_file(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The walk-through found Export and Import doing nothing from the menu (the action's
    `checked` arrived as the path): each entry opens its file dialog, and what is chosen there
    is exported or imported."""
    type_and_send(qtbot, window, "Which radiator is cold?")
    wait_for_reply(qtbot, window)
    chosen = tmp_path / "from-the-menu.md"
    asked: list[str] = []
    starts: list[Path] = []

    def save_dialog(*args: object) -> tuple[str, str]:
        asked.append("save")
        starts.append(Path(str(args[2])).parent)  # the suggested file's folder
        return str(chosen), ""

    def open_dialog(*args: object) -> tuple[str, str]:
        asked.append("open")
        starts.append(Path(str(args[2])))
        return str(tmp_path / "missing.json"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", open_dialog)
    actions = {a.text(): a for a in window.menuBar().actions()[0].menu().actions()}
    actions["E&xport chat…"].trigger()
    qtbot.waitUntil(chosen.exists)
    actions["&Import chats…"].trigger()
    assert asked == ["save", "open"]
    assert starts == [Path(QDir.homePath())] * 2  # not the working directory
    qtbot.waitUntil(lambda: "Could not import" in window.statusBar().currentMessage())
    assert window.statusBar().currentMessage().startswith("Could not import:")
