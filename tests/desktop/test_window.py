"""The window without a backend: keyboard, accessible names, settings, welcome, saved layout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QComboBox, QWidget

from backend.paths import HomeLayout
from backend.settings import Settings
from desktop.app import add_parts, build_window, open_frame
from desktop.main_window import MainWindow
from desktop.settings_dialog import SettingsDialog
from desktop.theme import THEMES, saved_choice
from desktop.window_state import WindowState
from tests.desktop.test_screenshots import show_sample_chat


def activate(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def test_shortcuts_reach_search_new_chat_and_settings(qtbot, offline_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window = offline_window
    window.leave_welcome()
    show_sample_chat(window)
    activate(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.conversations.search.hasFocus()

    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.chat_view.views == [] and window.chat_view.composer.prompt.hasFocus()

    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), SettingsDialog))
    QApplication.activeModalWidget().reject()


def test_shift_enter_breaks_the_line_and_enter_sends(qtbot, offline_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    composer = offline_window.chat_view.composer
    # The composer alone:
    offline_window.chat_view.send_requested.disconnect(offline_window.session.send)
    sent: list[str] = []
    composer.send_requested.connect(lambda text, _editing: sent.append(text))
    qtbot.keyClicks(composer.prompt, "line one")
    qtbot.keyClick(composer.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(composer.prompt, "line two")
    assert sent == []
    qtbot.keyClick(composer.prompt, Qt.Key.Key_Return)
    assert sent == ["line one\nline two"] and composer.prompt.toPlainText() == ""


def test_every_focusable_control_has_an_accessible_name(offline_window: MainWindow) -> None:
    offline_window.leave_welcome()
    show_sample_chat(offline_window)

    def reachable_by_tab(widget: QWidget) -> bool:
        return (
            widget.isVisibleTo(offline_window)
            and bool(widget.focusPolicy() & Qt.FocusPolicy.TabFocus)
            and not widget.objectName().startswith("qt_")
        )

    controls = [w for w in offline_window.findChildren(QWidget) if reachable_by_tab(w)]
    assert len(controls) >= 12, [type(w).__name__ for w in controls]
    unnamed = [type(w).__name__ for w in controls if not w.accessibleName()]
    assert unnamed == []


def test_settings_dialog_saves_the_typed_settings_and_applies_the_theme(
    qtbot,  # type: ignore[no-untyped-def]
    offline_window: MainWindow,
    hearth_home: Path,
) -> None:
    dialog = offline_window.open_settings()
    theme = dialog.editors["theme"].widget
    theme.setCurrentIndex(theme.findData("dark"))
    dialog.editors["context_size"].widget.setValue(8192)
    dialog.save_if_valid()
    layout = HomeLayout(hearth_home)
    qtbot.waitUntil(lambda: layout.settings.exists())
    saved = Settings.load(layout)
    assert saved.theme == "dark" and saved.context_size == 8192
    assert json.loads(layout.settings.read_text())["schema_version"] == saved.schema_version
    assert offline_window.theme.dark
    assert offline_window.palette().window().color().lightness() < 80


def test_invalid_settings_are_explained_not_saved(offline_window: MainWindow) -> None:
    dialog = SettingsDialog(offline_window.settings, offline_window)
    dialog.editors["default_model"].read = lambda: None  # a value the typed model rejects
    dialog.save_if_valid()
    assert dialog.problem.isVisibleTo(dialog) and "default_model" in dialog.problem.text()
    assert dialog.result_settings() is None
    dialog.deleteLater()


def test_the_default_model_is_picked_from_the_installed_models(
    offline_window: MainWindow,
) -> None:
    """#20 defect 16: a free-text box took any typo; the saved name, installed or not, stays."""
    settings = offline_window.settings.model_copy(update={"documents_model": "gone-model"})
    dialog = SettingsDialog(settings, offline_window, ["smollm2-135m-instruct", "qwen-7b"])
    picker = dialog.editors["default_model"].widget
    assert isinstance(picker, QComboBox) and not picker.isEditable()
    assert [picker.itemData(i) for i in range(picker.count())] == [
        "smollm2-135m-instruct",
        "qwen-7b",
    ]
    picker.setCurrentIndex(picker.findData("qwen-7b"))
    documents = dialog.editors["documents_model"].widget
    assert documents.currentText() == "gone-model (not installed)"
    dialog.save_if_valid()
    chosen = dialog.result_settings()
    assert chosen is not None
    assert (chosen.default_model, chosen.documents_model) == ("qwen-7b", "gone-model")
    dialog.deleteLater()


def test_welcome_is_shown_once_and_layout_is_remembered(
    qtbot,  # type: ignore[no-untyped-def]
    qapp: QApplication,
    offline_window: MainWindow,
    hearth_home: Path,
) -> None:
    assert offline_window.pages.currentWidget() is offline_window.welcome
    qtbot.mouseClick(offline_window.welcome.start_button, Qt.MouseButton.LeftButton)
    assert offline_window.pages.currentWidget() is offline_window.chat_view
    offline_window.resize(700, 500)
    offline_window.splitter.setSizes([260, 440])
    QApplication.processEvents()
    sidebar_width = offline_window.splitter.sizes()[0]
    offline_window.close()

    layout = HomeLayout(hearth_home)
    assert WindowState(layout).welcome_seen
    again = build_window(qapp, layout)
    again.show()
    QApplication.processEvents()
    try:
        assert again.pages.currentWidget() is again.chat_view
        assert (again.width(), again.height()) == (700, 500)
        assert again.splitter.sizes()[0] == sidebar_width
    finally:
        again.close()
        again.deleteLater()


def test_copy_buttons_put_the_code_and_the_message_on_the_clipboard(
    qtbot,  # type: ignore[no-untyped-def]
    offline_window: MainWindow,
) -> None:
    offline_window.leave_welcome()
    show_sample_chat(offline_window)
    reply = offline_window.chat_view.views[-1]
    (code_block,) = reply.code_blocks()
    qtbot.mouseClick(code_block.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == code_block.code()
    assert code_block.code().startswith("def reversed_copy(")
    qtbot.mouseClick(reply.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == reply.text


def test_the_frame_paints_first_and_the_views_fill_it_without_moving_it(
    qtbot,  # type: ignore[no-untyped-def]
    qapp: QApplication,
    hearth_home: Path,
) -> None:
    layout = HomeLayout(hearth_home).ensure()
    layout.settings.write_text(json.dumps({"theme": "dark"}))
    frame = open_frame(qapp, layout)
    try:
        with qtbot.waitSignal(frame.first_painted):
            frame.show()
        assert not frame.parts_ready and not hasattr(frame, "chat_view")
        assert frame.status.text.text() == "Starting the engine…"
        assert frame.theme.dark, "the theme was read for the first frame"
        assert [frame.tabs.tabText(i) for i in range(3)] == ["Chat", "Documents", "Images"]
        before = (frame.splitter.sizes(), frame.tabs.geometry(), frame.statusBar().geometry())

        add_parts(frame, layout)
        QApplication.processEvents()
        assert frame.parts_ready and frame.pages.currentWidget() is frame.welcome
        assert frame.tabs.widget(0) is frame.pages and frame.tabs.currentIndex() == 0
        assert (frame.splitter.sizes(), frame.tabs.geometry(), frame.statusBar().geometry()) == (
            before
        )
        assert frame.splitter.widget(0) is frame.conversations
    finally:
        frame.close()
        frame.deleteLater()
        frame.theme.apply("light")


FIRST_FRAME_PROBE = """
import sys
from PySide6.QtWidgets import QApplication
from backend.paths import HomeLayout
from desktop.app import open_frame

app = QApplication(sys.argv)
frame = open_frame(app, HomeLayout.current())
heavy = ("pydantic", "backend.settings", "desktop.chat.chat_view", "desktop.backend_connection")
frame.first_painted.connect(lambda: print(sorted(m for m in heavy if m in sys.modules)))
frame.first_painted.connect(app.quit)
frame.show()
app.exec()
"""


def test_the_first_frame_needs_neither_pydantic_nor_the_views(hearth_home: Path) -> None:
    """What the first paint waits for; each of these adds tens of ms before it."""
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "HEARTH_HOME": str(hearth_home)}
    out = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME_PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.splitlines()[-1] == "[]"


def test_the_first_frame_reads_the_theme_without_the_settings_model(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    assert saved_choice(settings) == "system", "no file yet"
    settings.write_text(json.dumps({"theme": "dark", "context_size": 8192}))
    assert saved_choice(settings) == "dark"
    for unreadable in ('{"theme": "purple"}', "[1, 2]", "{not json"):
        settings.write_text(unreadable)
        assert saved_choice(settings) == "system"
    assert set(THEMES) == set(typing.get_args(Settings.model_fields["theme"].annotation))


def test_chat_search_is_usable_from_the_keyboard(qtbot, offline_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    offline_window.leave_welcome()
    show_sample_chat(offline_window)
    chats = offline_window.conversations
    chats.list.setCurrentRow(-1)
    opened: list[object] = []
    chats.opened.connect(opened.append)
    offline_window.focus_search()
    qtbot.keyClicks(chats.search, "list")
    qtbot.keyClick(chats.search, Qt.Key.Key_Escape)
    assert chats.search.text() == "" and chats.search.hasFocus(), "Esc clears the search"
    qtbot.keyClicks(chats.search, "list")
    qtbot.keyClick(chats.search, Qt.Key.Key_Down)
    assert chats.list.hasFocus() and chats.list.currentRow() == 0
    assert opened == [chats.list.item(0).data(Qt.ItemDataRole.UserRole)]
