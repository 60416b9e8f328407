"""The sidebar: conversations newest first, search by title and text, new, rename and delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.backend_connection import BackendConnection

if TYPE_CHECKING:
    from backend.wire import Conversation

SEARCH_DELAY_MS = 250  # wait for a pause in typing before asking the backend


class SearchBox(QLineEdit):
    """Down or Enter goes to the first match; Esc clears the search (before the window's own
    Esc, which stops a reply, gets the key)."""

    to_results = Signal()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and self._clears(event):
            event.accept()  # the key comes to keyPressEvent instead of the shortcut
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        if self._clears(event):
            self.clear()
        elif event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.to_results.emit()
        else:
            super().keyPressEvent(event)

    def _clears(self, event: QEvent) -> bool:
        return (
            isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape and bool(self.text())
        )


class ConversationList(QWidget):
    """Lists and manages conversations through the backend; emits the one the user opens."""

    opened = Signal(object)  # a conversation id, or None for a fresh chat
    # The New chat button: the window opens the chat and puts the cursor in its message box.
    new_chat_requested = Signal()
    renamed = Signal(object)  # the conversation, with its new title
    error = Signal(str)

    def __init__(self, connection: BackendConnection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.connection = connection
        self._current: str | None = None
        self._refreshes = 0  # an older listing that answers late is not shown
        self._held: list[Conversation] | None = None  # a new order waiting for the pointer
        self.search = SearchBox(self)
        self.search.setPlaceholderText("Search chats (Ctrl+K)")
        self.search.setAccessibleName("Search conversations")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setAccessibleName("Conversations")
        # Long titles end in "…" (the tooltip has them whole) rather than scrolling sideways.
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.installEventFilter(self)
        self.new_button = QPushButton("New chat", self)
        self.new_button.setAccessibleName("New chat")
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.rename_button = QPushButton("Rename", self)
        self.rename_button.setAccessibleName("Rename conversation")
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setAccessibleName("Delete conversation")
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._search_timer.start)
        self.search.to_results.connect(self._to_results)
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.new_button.clicked.connect(self.new_chat_requested)
        self.rename_button.clicked.connect(self.rename_current)
        self.delete_button.clicked.connect(self.delete_current)
        self._layout_parts()
        self._update_buttons()

    def _layout_parts(self) -> None:
        manage = QHBoxLayout()
        manage.addWidget(self.rename_button)
        manage.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 10, 4, 8)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addLayout(manage)

    def refresh(self) -> None:
        query = self.search.text().strip()
        self._refreshes += 1
        version = self._refreshes

        def show(conversations: list[Conversation]) -> None:
            if version == self._refreshes:  # else a newer search's answer is on its way
                self.show_conversations(conversations)

        self.connection.call(lambda api: api.conversations.find(query), show, self.error.emit)

    def show_conversations(self, conversations: list[Conversation]) -> None:
        """The listing, newest activity first. While the pointer is over the list a new order
        waits until it leaves, so that a click is not caught by a chat moving under it."""
        order = [c.id for c in conversations]
        if self.list.underMouse() and order != self._shown_order():
            self._held = conversations
            return
        self._held = None
        self.list.blockSignals(True)  # repopulating must not re-open conversations
        self.list.clear()
        for conversation in conversations:
            item = QListWidgetItem(conversation.title)
            item.setData(Qt.ItemDataRole.UserRole, conversation.id)
            item.setToolTip(conversation.title)
            self.list.addItem(item)
            if conversation.id == self._current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self._update_buttons()

    def _shown_order(self) -> list[str]:
        return [
            self.list.item(row).data(Qt.ItemDataRole.UserRole) for row in range(self.list.count())
        ]

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.list and event.type() == QEvent.Type.Leave and self._held is not None:
            self.show_conversations(self._held)
        return False

    def mark_current(self, conversation: Conversation | None) -> None:
        """The chat view opened or created this conversation; reflect it here."""
        self._current = conversation.id if conversation else None
        self.refresh()

    def _to_results(self) -> None:
        if self.list.count():
            self.list.setFocus()
            if self.list.currentRow() < 0:
                self.list.setCurrentRow(0)  # opens it, as a click would

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def open(self, conversation_id: str) -> None:
        """Open this conversation as if it had been clicked; the list selects it when it comes."""
        self._current = conversation_id
        self.opened.emit(conversation_id)

    def new_chat(self) -> None:
        self._current = None
        self.list.clearSelection()
        self.list.setCurrentRow(-1)
        self.opened.emit(None)

    def rename_current(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        conversation_id = item.data(Qt.ItemDataRole.UserRole)
        title, ok = QInputDialog.getText(self, "Rename chat", "New name:", text=item.text())
        if ok and title.strip():
            new_title = title.strip()
            self.connection.call(
                lambda api: api.conversations.update(conversation_id, title=new_title),
                self._on_renamed,
                self.error.emit,
            )

    def _on_renamed(self, conversation: Conversation) -> None:
        self.refresh()
        self.renamed.emit(conversation)

    def delete_current(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        answer = QMessageBox.question(
            self, "Delete chat", f"Delete “{item.text()}” and all its messages?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            conversation_id = item.data(Qt.ItemDataRole.UserRole)
            self.connection.call(
                lambda api: api.conversations.delete(conversation_id),
                lambda _none: self._on_deleted(conversation_id),
                self.error.emit,
            )

    def _on_deleted(self, conversation_id: str | None) -> None:
        if conversation_id == self._current:
            self.new_chat()
        self.refresh()

    def _on_current_changed(self, item: QListWidgetItem | None, _previous: object) -> None:
        self._update_buttons()
        if item is not None:
            self._current = item.data(Qt.ItemDataRole.UserRole)
            self.opened.emit(self._current)

    def _update_buttons(self) -> None:
        selected = self.list.currentItem() is not None
        self.rename_button.setEnabled(selected)
        self.delete_button.setEnabled(selected)
