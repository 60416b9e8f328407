"""PNG screenshots for review: a chat with a code block, settings in light and dark, the welcome.

They go to build/screenshots/ unless HEARTH_SCREENSHOTS_DIR names another folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QWidget

from desktop.backend_connection import BackendState
from desktop.main_window import MainWindow
from desktop.settings_dialog import SettingsDialog

REPO = Path(__file__).resolve().parents[2]

ANSWER = """## Reversing a list

There are **two** common ways:

1. slicing, which makes a copy;
2. `list.reverse()`, which works in place.

```python
def reversed_copy(items: list[int]) -> list[int]:
    # a step of -1 walks the list backwards
    return items[::-1]
```

| way | copies? | speed |
|---|---|---|
| `items[::-1]` | yes | fast |
| `items.reverse()` | no | fast |
"""

CONVERSATION = {"id": "c1", "title": "Reversing a list in Python", "settings": {}}
MESSAGES = [
    {
        "id": 1,
        "role": "user",
        "content": "How do I reverse a list in Python?",
        "status": "complete",
    },
    {
        "id": 2,
        "role": "assistant",
        "content": ANSWER,
        "model": "smollm2-135m-instruct",
        "status": "complete",
        "timings": {
            "generation_per_second": 48.3,
            "prompt_tokens": 31,
            "completion_tokens": 112,
            "context_size": 4096,
        },
    },
]
SIDEBAR = [
    CONVERSATION,
    {"id": "c2", "title": "Packing list for the weekend"},
    {"id": "c3", "title": "What is a GGUF file?"},
]


@pytest.fixture
def screenshot_dir() -> Path:
    folder = Path(os.environ.get("HEARTH_SCREENSHOTS_DIR", REPO / "build" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save(widget: QWidget, path: Path) -> Path:
    QApplication.processEvents()
    assert widget.grab().save(str(path)), f"could not write {path}"
    assert path.stat().st_size > 10_000, "a real screenshot, not an empty image"
    return path


MODELS = [
    {"name": "smollm2-135m-instruct", "quantization": "Q4_1", "file_size": 98_362_432},
    {
        "name": "llama-70b",
        "quantization": "Q4_K_M",
        "file_size": 42_500_000_000,
        "memory": {"fits": False, "total_bytes": 44_000_000_000, "available_bytes": 9_000_000_000},
    },
]


def show_sample_chat(window: MainWindow) -> None:
    window.status.show_state(BackendState.READY, "Ready")
    window.chat_view.model_picker.set_models(MODELS, "smollm2-135m-instruct")
    window.pages.setCurrentWidget(window.chat_view)
    window.conversations._current = CONVERSATION["id"]
    window.conversations.show_conversations(SIDEBAR)
    window.chat_view.show_conversation(CONVERSATION, MESSAGES)
    QApplication.processEvents()  # new child widgets are shown from the event loop


def test_main_window_with_a_code_block(offline_window: MainWindow, screenshot_dir: Path) -> None:
    show_sample_chat(offline_window)
    reply = offline_window.chat_view.views[-1]
    assert [block.code() for block in reply.code_blocks()] == [
        MESSAGES[1]["content"].split("```python\n")[1].split("\n```")[0]
    ]
    picker = offline_window.chat_view.model_picker
    too_large = picker.item(picker.findData("llama-70b"))
    assert not too_large.isEnabled() and "too large" in too_large.text()
    save(offline_window, screenshot_dir / "main-window.png")
    offline_window.theme.apply("dark")
    save(offline_window, screenshot_dir / "main-window-dark.png")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_settings_dialog(offline_window: MainWindow, screenshot_dir: Path, theme: str) -> None:
    offline_window.theme.apply(theme)
    dialog = SettingsDialog(offline_window.settings, offline_window)
    dialog.show()
    assert "default_model" in dialog.editors and "schema_version" not in dialog.editors
    save(dialog, screenshot_dir / f"settings-{theme}.png")
    dialog.close()
    dialog.deleteLater()


def test_welcome(offline_window: MainWindow, screenshot_dir: Path) -> None:
    assert offline_window.pages.currentWidget() is offline_window.welcome, "first run welcomes"
    save(offline_window, screenshot_dir / "welcome.png")
