"""The sidebar does not reorder under the pointer: a chat that moves to the top while the pointer
is over the list moves when the pointer leaves, so a click lands on the chat it was aimed at."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication

from desktop.main_window import MainWindow
from tests.desktop.test_background_replies import two_chats
from tests.desktop.test_chat import type_and_send, wait_for_reply


def titles(window: MainWindow) -> list[str]:
    chats = window.conversations.list
    return [chats.item(row).text() for row in range(chats.count())]


def test_a_chat_moves_up_only_once_the_pointer_leaves_the_list(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    two_chats(qtbot, window)  # 'Gutters' (newest, open) above 'Radiators'
    assert titles(window) == ["Gutters", "Radiators"]
    chats = window.conversations.list
    chats.setAttribute(Qt.WidgetAttribute.WA_UnderMouse, True)  # the pointer is over the list
    select = [r for r in range(chats.count()) if chats.item(r).text() == "Radiators"]
    chats.setCurrentRow(select[0])  # its click opens 'Radiators'
    qtbot.waitUntil(lambda: window.chat_view.title.text() == "Radiators")
    type_and_send(qtbot, window, "And the valves?")  # new activity: 'Radiators' is newest now
    wait_for_reply(qtbot, window)
    window.conversations.refresh()  # as the next reload of the list does
    qtbot.waitUntil(lambda: window.conversations._held is not None)
    assert titles(window) == ["Gutters", "Radiators"]  # held while the pointer is there
    chats.setAttribute(Qt.WidgetAttribute.WA_UnderMouse, False)
    QApplication.sendEvent(chats, QEvent(QEvent.Type.Leave))
    assert titles(window) == ["Radiators", "Gutters"]
    assert chats.currentItem().text() == "Radiators"  # still the open chat
