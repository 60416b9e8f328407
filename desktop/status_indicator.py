"""The engine's state in the status bar: starting, ready, busy or error, with a restart button."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from desktop.backend_state import BackendState

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
        self.restart_button = QPushButton("Restart engine", self)
        self.restart_button.setAccessibleName("Restart the engine")
        self.restart_button.setVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.dot)
        layout.addWidget(self.text)
        layout.addWidget(self.restart_button)
        layout.addStretch(1)
        self.show_state(BackendState.STARTING, "Starting the engine…")

    def show_state(self, state: BackendState, detail: str) -> None:
        self.state = state
        self.dot.setStyleSheet(f"color: {DOT_COLOURS[state]};")
        self.text.setText(detail)
        self.setAccessibleName(f"Engine status: {state.value}")
        self.setToolTip(detail)
        # Errors are where Hearth gave up restarting by itself, so offer it by hand.
        self.restart_button.setVisible(state == BackendState.ERROR)
