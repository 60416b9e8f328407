"""The main window: sidebar, chat or welcome, status bar, menus and keyboard shortcuts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QDir, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QKeySequence,
    QPaintEvent,
    QShortcut,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

from backend.paths import HomeLayout
from desktop.status_indicator import StatusIndicator
from desktop.theme import ThemeController
from desktop.window_state import WindowState

if TYPE_CHECKING:
    from backend.settings import Settings
    from backend.store.chat_export import ChatExport, ImportResult
    from backend.wire import ModelDescription
    from desktop.backend_connection import BackendConnection
    from desktop.models.models_dialog import ModelsDialog
    from desktop.settings_dialog import SettingsDialog

ERROR_SHOWN_MS = 10_000
TAB_TITLES = ("Chat", "Documents", "Images")
GUI_ONLY_SETTINGS = {"theme"}  # changing anything else restarts the engine


class MainWindow(QMainWindow):
    """Wires the parts together; each part owns its own behaviour.

    It opens as a frame that paints at once: menus, the saved geometry and split, empty tabs
    and the engine status. `add_parts` then fills it with the views."""

    first_painted = Signal()

    def __init__(self, theme: ThemeController, layout: HomeLayout) -> None:
        super().__init__()
        self.setWindowTitle("Hearth")
        self.theme = theme
        self.home = layout
        self.parts_ready = False
        self._painted = False
        self.window_state = WindowState(layout)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.setAccessibleName("Chat, documents and images")
        for title in TAB_TITLES:  # empty pages until add_parts, so nothing moves then
            self.tabs.addTab(QWidget(), title)
        # Horizontal by default; naming Qt.Orientation (or passing the parent, which PySide6
        # checks against that overload) would build every enum of the Qt namespace, 15-50 ms
        # before the first paint.
        self.splitter = QSplitter()
        self.splitter.addWidget(QWidget())  # the conversation list's place
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([240, 760])
        self.setCentralWidget(self.splitter)
        self.status = StatusIndicator(self)
        # On the right: the bar's left part shows notices and errors (showMessage).
        self.statusBar().addPermanentWidget(self.status)
        self._add_actions()
        self._restore_layout()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.first_painted.emit()

    def add_parts(self, connection: BackendConnection, settings: Settings) -> None:
        """Builds the views into the frame. Their modules are imported here, once the frame is
        on screen: together they take longer to import than a bare window takes to paint."""
        from desktop.chat.chat_session import ChatSession
        from desktop.chat.chat_view import ChatView
        from desktop.conversation_list import ConversationList
        from desktop.documents.documents_panel import DocumentsPanel
        from desktop.documents.folder_watcher import FolderWatcher
        from desktop.images.image_search_panel import ImageSearchPanel
        from desktop.images.thumbnails import ThumbnailLoader
        from desktop.welcome import WelcomePage

        self.connection = connection
        self.settings = settings
        self.models: list[ModelDescription] = []  # installed, as last listed
        self.models_dialog: ModelsDialog | None = None
        self._reopened = False  # the last chat is reopened at the first connect only
        self.conversations = ConversationList(connection, self)
        self.thumbnails = ThumbnailLoader(connection.runner)
        self.chat_view = ChatView(self.thumbnails, self.theme.dark, self)
        self.chat_view.load_source_context = lambda source, show: connection.call(
            lambda api: api.documents.context(source.collection, source.path, source.snippet), show
        )  # a source preview shows its passage's surroundings once they arrive
        self.session = ChatSession(connection, self.chat_view)
        self._load_quick_actions()
        self.welcome = WelcomePage(
            settings.default_model,
            str(self.home.models),
            self._default_is_tiny(settings.default_model),
            self,
        )
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.chat_view)
        self.pages.addWidget(self.welcome)
        self.documents = DocumentsPanel(connection, self)
        self.folder_watcher = FolderWatcher(connection.runner, self)
        self.image_search = ImageSearchPanel(connection, self)
        self._fill_frame([self.pages, self.documents, self.image_search])
        self._connect_parts()
        self._enable_actions()
        self.parts_ready = True
        if settings.theme != self.theme.choice:  # settings.json said more than the frame read
            self.theme.apply(settings.theme)
        if not self.window_state.welcome_seen:
            self.pages.setCurrentWidget(self.welcome)
            self.welcome.example_button.setFocus()
        else:
            self.chat_view.composer.prompt.setFocus()  # a returning user just types

    def _fill_frame(self, pages: list[QWidget]) -> None:
        """Puts the parts where the frame kept their places; the splitter keeps its sizes."""
        placeholders = [self.splitter.replaceWidget(0, self.conversations)]
        for index, page in enumerate(pages):
            placeholders.append(self.tabs.widget(index))
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, page, TAB_TITLES[index])
        for placeholder in placeholders:
            if placeholder is not None:
                placeholder.deleteLater()
        self.tabs.setCurrentIndex(0)

    def _connect_parts(self) -> None:
        connection, session = self.connection, self.session
        connection.state_changed.connect(self.status.show_state)
        connection.connected.connect(self._on_connected)
        connection.lost.connect(self.show_notice)
        self.status.restart_button.clicked.connect(lambda: connection.start())
        self.status.log_button.clicked.connect(
            lambda: QDesktopServices.openUrl(
                QUrl.fromLocalFile(str(self.home.logs / "backend.log"))
            )
        )
        self.conversations.opened.connect(session.open)
        self.conversations.new_chat_requested.connect(self.new_chat)
        # The chat open at closing is opened again on the next launch.
        self.conversations.opened.connect(self.window_state.remember_chat)
        session.conversation_changed.connect(lambda c: self.window_state.remember_chat(c.id))
        self.conversations.renamed.connect(session.show_renamed)
        session.notice.connect(self.show_notice)
        self.conversations.error.connect(self.show_error)
        session.conversation_changed.connect(self.conversations.mark_current)
        session.error.connect(self.show_error)
        self.welcome.example_requested.connect(self._ask_example)
        self.welcome.dismissed.connect(self.leave_welcome)
        self.welcome.models_requested.connect(self.open_models)
        self.welcome.model_offered.connect(self.use_as_default)
        self.theme.changed.connect(self.chat_view.set_dark)
        self.documents.error.connect(self.show_error)
        self.documents.collections_changed.connect(self.folder_watcher.watch)
        self.documents.collections_changed.connect(self.chat_view.set_collections)
        self.folder_watcher.changed.connect(self.documents.sync)

    def _add_actions(self) -> None:
        """The menu is in the first frame; what needs the parts waits for them, and so do the
        shortcuts: setting one makes PySide6 build every enum of the Qt namespace (15-50 ms)."""
        menu = self.menuBar().addMenu("&Hearth")
        self.shortcuts: list[tuple[QAction, str | QKeySequence.StandardKey]] = [
            (self._action(menu, "&New chat", self.new_chat), "Ctrl+N"),
            (self._action(menu, "&Search chats", self.focus_search), "Ctrl+K"),
            (self._action(menu, "&Models…", self.open_models), "Ctrl+Shift+M"),
            # Through lambdas: `triggered` passes `checked`, which is no file path.
            (self._action(menu, "E&xport chat…", lambda: self.export_chat()), "Ctrl+Shift+E"),
            (self._action(menu, "&Import chats…", lambda: self.import_chats()), "Ctrl+Shift+I"),
            (self._action(menu, "S&ettings…", self.open_settings), "Ctrl+,"),
        ]
        for action, _shortcut in self.shortcuts:
            action.setEnabled(False)
        menu.addSeparator()
        quit_action = self._action(menu, "&Quit", self.close)
        self.shortcuts.append((quit_action, QKeySequence.StandardKey.Quit))

    def _enable_actions(self) -> None:
        for action, shortcut in self.shortcuts:
            action.setShortcut(QKeySequence(shortcut))
            action.setEnabled(True)
        # Esc stops a reply anywhere in the window; otherwise it cancels an edit in progress.
        stop = QShortcut(QKeySequence("Esc"), self)  # a window shortcut, Qt's default
        stop.activated.connect(self.stop_or_cancel)

    def _action(self, menu: Any, text: str, slot: Any) -> QAction:
        action = QAction(text, self)
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
        self.connection.call(lambda api: api.models.available(), self._show_models, self.show_error)
        self._reopen_last_chat()

    def _reopen_last_chat(self) -> None:
        """At the first connect, a returning user finds the chat they left, unless they have
        already begun another."""
        if self._reopened:
            return
        self._reopened = True
        last = self.window_state.last_chat
        untouched = self.session.conversation is None and not self.chat_view.views
        if last and untouched and self.pages.currentWidget() is self.chat_view:
            self.conversations.open(last)

    def _show_models(self, models: list[ModelDescription]) -> None:
        """The installed models, listed at each connect and by the Models dialog."""
        self.models = models
        settings = self.settings
        self.chat_view.set_models(models, settings.default_model, settings.documents_model)
        self.welcome.offer(models, settings.default_model)

    def _default_is_tiny(self, name: str) -> bool:
        """Shipped models are tiny demonstrations; until the list arrives, the default that
        Settings ships with is known to be one."""
        if self.models:
            return any(model.name == name and model.source == "shipped" for model in self.models)
        return name == type(self.settings).model_fields["default_model"].default

    def show_error(self, message: str) -> None:
        """A failed request. While the engine restarts, the status indicator has already said
        why, so requests that failed because of the crash add nothing."""
        if self.connection.is_ready:
            self.statusBar().showMessage(message, ERROR_SHOWN_MS)

    def show_notice(self, message: str) -> None:
        """Shown whatever the engine's state: a crash, unreadable settings."""
        self.statusBar().showMessage(message, ERROR_SHOWN_MS)

    def _load_quick_actions(self) -> None:
        from backend.quick_actions import load_quick_actions

        self.chat_view.quick_actions, problem = load_quick_actions(self.home.root)
        if problem:
            self.show_notice(f"Your own quick actions were left out: {problem}")

    def export_chat(self, path: Path | None = None) -> None:
        """The open chat to a Markdown or JSON file (asked for when not given)."""
        from desktop.chat_files import SAVE_FILTERS, suggested_name

        conversation = self.session.conversation
        if conversation is None:
            self.show_notice("Open a chat to export it.")
            return
        if path is None:
            name = str(Path(QDir.homePath()) / suggested_name(conversation.title))
            chosen, _ = QFileDialog.getSaveFileName(self, "Export chat", name, SAVE_FILTERS)
            if not chosen:
                return
            path = Path(chosen)
        self.connection.call(
            lambda api: api.conversations.export(conversation.id),
            lambda export: self._save_export(export, path),
            self.show_error,
        )

    def _save_export(self, export: ChatExport, path: Path) -> None:
        from desktop.chat_files import save_export

        try:
            save_export(export, path)
        except OSError as exc:
            self.show_notice(f"Could not save {path}: {exc.strerror or exc}")
            return
        self.show_notice(f"Exported “{export.conversation.title}” to {path}")

    def import_chats(self, path: Path | None = None) -> None:
        """Chats from a Hearth JSON export or ChatGPT's conversations.json."""
        from desktop.chat_files import read_import_file

        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Import chats", QDir.homePath(), "Chat exports (*.json)"
            )
            if not chosen:
                return
            path = Path(chosen)
        chosen_path = path
        self.connection.call(
            lambda api: api.conversations.import_chats(read_import_file(chosen_path)),
            self._show_imported,
            lambda why: self.show_notice(f"Could not import: {why}"),
        )

    def _show_imported(self, result: ImportResult) -> None:
        self.conversations.refresh()
        count = len(result.conversations)
        notice = f"Imported {count} chat{'s' if count != 1 else ''}"
        self.show_notice("; ".join([notice, *result.notes]))

    def focus_search(self) -> None:
        self.conversations.focus_search()

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

    def open_models(self) -> ModelsDialog:
        """One dialog for the window's life, hidden when closed, so the downloads it follows
        go on being shown."""
        from desktop.models.models_dialog import ModelsDialog

        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self.connection, self.settings.default_model, self)
            self.models_dialog.default_chosen.connect(self.use_as_default)
            self.models_dialog.models_changed.connect(self._show_models)
        self.models_dialog.refresh()
        self.models_dialog.show()
        self.models_dialog.raise_()
        return self.models_dialog

    def use_as_default(self, name: str) -> None:
        """Saved in Settings; the engine restarts to answer new chats with it."""
        self._apply_settings(self.settings.model_copy(update={"default_model": name}))
        if self.models:
            self._show_models(self.models)  # the picker's "Default (…)" names it at once

    def open_settings(self) -> SettingsDialog:
        """Window-modal but not blocking: the answer arrives through `finished`."""
        from desktop.settings_dialog import SettingsDialog  # pydantic's field editors

        dialog = SettingsDialog(self.settings, self, [model.name for model in self.models])
        dialog.accepted.connect(lambda: self._apply_settings(dialog.result_settings()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _apply_settings(self, chosen: Settings | None) -> None:
        if chosen is None:
            return
        engine_changed = chosen.model_dump(exclude=GUI_ONLY_SETTINGS) != self.settings.model_dump(
            exclude=GUI_ONLY_SETTINGS
        )
        self.settings = chosen
        self.theme.apply(chosen.theme)
        self.welcome.set_default_model(
            chosen.default_model, str(self.home.models), self._default_is_tiny(chosen.default_model)
        )
        if self.models_dialog is not None:
            self.models_dialog.set_default_model(chosen.default_model)
        home = self.home
        on_saved = (lambda _none: self._restart_for_settings()) if engine_changed else None
        self.connection.runner.submit(lambda: chosen.save(home), on_saved, self.show_notice)

    def _restart_for_settings(self) -> None:
        """A backend not yet running reads them when it starts."""
        connection = self.connection
        if connection.is_ready and not connection.restart(
            "Restarting the engine with the new settings…"
        ):
            self.show_notice(
                "Settings saved. The engine was already running before Hearth opened: "
                "restart it (hearth serve) to use them."
            )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.window_state.save_layout(self.saveGeometry(), self.splitter.saveState())
        self.window_state.sync()
        if self.parts_ready:
            self.session.stop()
        super().closeEvent(event)
