"""The engine's state in the status bar: starting, ready, busy or error, with a restart button."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from desktop.backend_state import BackendState

TEXT_WIDTH = 420  # px; longer states are cut with "…" and shown whole in the tooltip
DOT_COLOURS = {
    BackendState.STARTING: "#d4a017",
    BackendState.READY: "#2e9e44",
    BackendState.BUSY: "#2f7fd8",
    BackendState.ERROR: "#d03b3b",
}


class StatusIndicator(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = BackendState.STARTING
        self.dot = QLabel("●", self)
        self.text = QLabel(self)
        self.detail = ""
        self.restart_button = QPushButton("Restart engine", self)
        self.restart_button.setAccessibleName("Restart the engine")
        self.restart_button.setVisible(False)
        self.log_button = QPushButton("Open log", self)
        self.log_button.setAccessibleName("Open the engine's log")
        self.log_button.setVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.dot)
        layout.addWidget(self.text)
        layout.addWidget(self.restart_button)
        layout.addWidget(self.log_button)
        self.show_state(BackendState.STARTING, "Starting the engine…")

    def show_state(self, state: BackendState, detail: str) -> None:
        self.state = state
        self.detail = detail
        self.dot.setStyleSheet(f"color: {DOT_COLOURS[state]};")
        self.text.setText(self._elided(detail))
        self.setAccessibleName(f"Engine status: {state.value}. {detail}")
        self.setToolTip(detail)
        # Errors are where Hearth gave up restarting by itself, so offer it by hand, and the
        # log that says why.
        self.restart_button.setVisible(state == BackendState.ERROR)
        self.log_button.setVisible(state == BackendState.ERROR)

    def _elided(self, text: str) -> str:
        # By hand: Qt's elidedText needs the Qt namespace's enums, which this first-frame
        # widget must not build (tens of milliseconds before the first paint).
        width = self.text.fontMetrics().horizontalAdvance
        if width(text) <= TEXT_WIDTH:
            return text
        while text and width(text + "…") > TEXT_WIDTH:
            text = text[:-1]
        return text.rstrip() + "…"
