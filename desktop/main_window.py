"""The main window: sidebar, chat or welcome, status bar, menus and keyboard shortcuts."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QSplitter, QStackedWidget

from backend.paths import HomeLayout
from backend.settings import Settings
from desktop.backend_connection import BackendConnection
from desktop.chat.chat_session import ChatSession
from desktop.chat.chat_view import ChatView
from desktop.conversation_list import ConversationList
from desktop.settings_dialog import SettingsDialog
from desktop.status_indicator import StatusIndicator
from desktop.theme import ThemeController
from desktop.welcome import WelcomePage
from desktop.window_state import WindowState

ERROR_SHOWN_MS = 10_000


class MainWindow(QMainWindow):
    """Wires the parts together; each part owns its own behaviour."""

    def __init__(
        self,
        connection: BackendConnection,
        theme: ThemeController,
        settings: Settings,
        layout: HomeLayout,
    ) -> None:
        super().__init__()
        self.setWindowTitle("Hearth")
        self.connection = connection
        self.theme = theme
        self.settings = settings
        self.home = layout
        self.window_state = WindowState(layout)
        self.conversations = ConversationList(connection, self)
        self.chat_view = ChatView(theme.dark, self)
        self.session = ChatSession(connection, self.chat_view)
        self.welcome = WelcomePage(settings.default_model, str(layout.models), self)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.chat_view)
        self.pages.addWidget(self.welcome)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.conversations)
        self.splitter.addWidget(self.pages)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([240, 760])
        self.setCentralWidget(self.splitter)
        self.status = StatusIndicator(self)
        self.statusBar().addPermanentWidget(self.status, 1)
        self._connect_parts()
        self._add_actions()
        self._restore_layout()
        if not self.window_state.welcome_seen:
            self.pages.setCurrentWidget(self.welcome)
            self.welcome.example_button.setFocus()

    def _connect_parts(self) -> None:
        connection, session = self.connection, self.session
        connection.state_changed.connect(self.status.show_state)
        connection.connected.connect(self._on_connected)
        connection.lost.connect(self.show_notice)
        self.status.restart_button.clicked.connect(lambda: connection.start())
        self.conversations.opened.connect(session.open)
        self.conversations.error.connect(self.show_error)
        session.conversation_changed.connect(self.conversations.mark_current)
        session.error.connect(self.show_error)
        self.welcome.example_requested.connect(self._ask_example)
        self.welcome.dismissed.connect(self.leave_welcome)
        self.theme.changed.connect(self.chat_view.set_dark)

    def _add_actions(self) -> None:
        menu = self.menuBar().addMenu("&Hearth")
        self._action(menu, "&New chat", "Ctrl+N", self.new_chat)
        self._action(menu, "&Search chats", "Ctrl+K", self.conversations.focus_search)
        self._action(menu, "S&ettings…", "Ctrl+,", self.open_settings)
        menu.addSeparator()
        self._action(menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        # Esc stops a reply anywhere in the window; otherwise it cancels an edit in progress.
        stop = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        stop.setContext(Qt.ShortcutContext.WindowShortcut)
        stop.activated.connect(self.stop_or_cancel)

    def _action(self, menu: Any, text: str, shortcut: Any, slot: Any) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _restore_layout(self) -> None:
        geometry = self.window_state.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1100, 720)
        splitter = self.window_state.splitter()
        if splitter is not None:
            self.splitter.restoreState(splitter)

    def _on_connected(self) -> None:
        self.conversations.refresh()
        self.connection.call(
            lambda api: api.list_models(),
            lambda models: self.chat_view.model_picker.set_models(
                models, self.settings.default_model
            ),
            self.show_error,
        )

    def show_error(self, message: str) -> None:
        """A failed request. While the engine restarts, the status indicator has already said
        why, so requests that failed because of the crash add nothing."""
        if self.connection.is_ready:
            self.statusBar().showMessage(message, ERROR_SHOWN_MS)

    def show_notice(self, message: str) -> None:
        """Shown whatever the engine's state: a crash, unreadable settings."""
        self.statusBar().showMessage(message, ERROR_SHOWN_MS)

    def new_chat(self) -> None:
        self.leave_welcome()
        self.conversations.new_chat()
        self.chat_view.composer.prompt.setFocus()

    def stop_or_cancel(self) -> None:
        if self.session.generating:
            self.session.stop()
        else:
            self.chat_view.composer.cancel_edit()

    def _ask_example(self, question: str) -> None:
        self.leave_welcome()
        self.conversations.new_chat()
        self.session.send(question)

    def leave_welcome(self) -> None:
        self.window_state.mark_welcome_seen()
        self.pages.setCurrentWidget(self.chat_view)

    def open_settings(self) -> SettingsDialog:
        """Window-modal but not blocking: the answer arrives through `finished`."""
        dialog = SettingsDialog(self.settings, self)
        dialog.accepted.connect(lambda: self._apply_settings(dialog.result_settings()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _apply_settings(self, chosen: Settings | None) -> None:
        if chosen is None:
            return
        self.settings = chosen
        self.theme.apply(chosen.theme)
        self.welcome.set_default_model(chosen.default_model, str(self.home.models))
        home = self.home
        self.connection.runner.submit(lambda: chosen.save(home), None, self.show_notice)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.window_state.save_layout(self.saveGeometry(), self.splitter.saveState())
        self.window_state.sync()
        self.session.stop()
        super().closeEvent(event)
