"""PNG screenshots for review: a chat with a code block, settings in light and dark, the welcome,
documents being indexed, an answer with sources and its preview, and a question about an image.

They go to build/screenshots/ unless HEARTH_SCREENSHOTS_DIR names another folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QWidget

from backend.wire import (
    CollectionInfo,
    Conversation,
    IngestEvent,
    MemoryFit,
    Message,
    ModelDescription,
    Source,
)
from desktop.backend_connection import BackendState
from desktop.chat.model_picker import MISSING
from desktop.documents.ingest_progress import IngestProgress
from desktop.main_window import MainWindow
from desktop.settings_dialog import SettingsDialog

REPO = Path(__file__).resolve().parents[2]


def conversation(**fields: object) -> Conversation:
    """A conversation as the API answers with it; the test names only what it shows."""
    return Conversation.model_validate({"created_at": 0.0, "updated_at": 0.0} | fields)


def message(**fields: object) -> Message:
    return Message.model_validate({"conversation_id": "c1", "created_at": 0.0} | fields)


def model(
    name: str, quantization: str, file_size: int, fits: bool = True, available: int = 16 << 30
) -> ModelDescription:
    """A model description with what the picker shows (the rest zero); it fits unless told."""
    needed = file_size + (1 << 30)
    return ModelDescription(
        name=name,
        source="shipped",
        path=f"/models/{name}.gguf",
        general_name=name,
        architecture="llama",
        parameter_count=0,
        quantization=quantization,
        context_length=4096,
        chat_template=None,
        file_size=file_size,
        block_count=0,
        embedding_length=0,
        head_count=0,
        head_count_kv=0,
        expert_count=0,
        general_type="model",
        vision=False,
        memory=MemoryFit(
            context=4096,
            weights_bytes=file_size,
            kv_cache_bytes=1 << 30,
            total_bytes=needed,
            available_bytes=available,
            fits=fits,
        ),
    )


def collection(**fields: object) -> CollectionInfo:
    return CollectionInfo.model_validate({"created_at": 0.0, "revision": 1} | fields)


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

CONVERSATION = conversation(id="c1", title="Reversing a list in Python")
MESSAGES = [
    message(
        id=1,
        role="user",
        content="How do I reverse a list in Python?",
        status="complete",
    ),
    message(
        id=2,
        role="assistant",
        content=ANSWER,
        model="smollm2-135m-instruct",
        status="complete",
        timings={
            "model": "smollm2-135m-instruct",
            "finish_reason": "stop",
            "generation_per_second": 48.3,
            "prompt_per_second": 310.0,
            "prompt_ms": 100.0,
            "generation_ms": 2318.8,
            "prompt_tokens": 31,
            "completion_tokens": 112,
            "context_size": 4096,
        },
    ),
]
SIDEBAR = [
    CONVERSATION,
    conversation(id="c2", title="Packing list for the weekend"),
    conversation(id="c3", title="What is a GGUF file?"),
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
    model("smollm2-135m-instruct", "Q4_1", 98_362_432),
    model("hearth-smol", "Q4_1", 98_362_432),
    model(
        "llama-70b",
        "Q4_K_M",
        42_500_000_000,
        fits=False,
        available=9_000_000_000,
    ),
]


def show_sample_chat(window: MainWindow) -> None:
    window.status.show_state(BackendState.READY, "Ready")
    window.chat_view.model_picker.set_models(MODELS, "smollm2-135m-instruct", "hearth-smol")
    window.pages.setCurrentWidget(window.chat_view)
    window.conversations._current = CONVERSATION.id
    window.conversations.show_conversations(SIDEBAR)
    window.chat_view.show_conversation(CONVERSATION, MESSAGES)
    QApplication.processEvents()  # new child widgets are shown from the event loop


def test_a_notice_shows_beside_the_engine_state(
    offline_window: MainWindow, screenshot_dir: Path
) -> None:
    show_sample_chat(offline_window)
    offline_window.status.show_state(
        BackendState.ERROR, "The engine could not start: " + "a very long reason " * 12
    )
    offline_window.show_notice("The engine is not running: use Restart engine, bottom right.")
    status = offline_window.status
    assert status.text.text().endswith("…") and status.toolTip().endswith("reason ")
    assert status.log_button.isVisible() and status.restart_button.isVisible()
    assert status.geometry().left() > offline_window.statusBar().width() // 3
    save(offline_window, screenshot_dir / "notice-and-error.png")


WIDE_ANSWER = (
    "A table with many columns, and a long line of code:\n\n"
    + "| "
    + " | ".join(f"column {n}" for n in range(14))
    + " |\n"
    + "|"
    + "---|" * 14
    + "\n"
    + "| "
    + " | ".join(str(n * n) for n in range(14))
    + " |\n\n"
    + "```python\n"
    + "total = "
    + " + ".join(f"value_{n}" for n in range(40))
    + "\n"
    + "    indented = True\n```\n\nThe rest of the answer wraps to the window as usual, "
    + "however long it is, " * 6
)


def test_wide_tables_and_code_scroll_sideways_inside_the_message(
    offline_window: MainWindow, screenshot_dir: Path
) -> None:
    offline_window.resize(800, 560)
    show_sample_chat(offline_window)
    reply = message(id=3, role="assistant", content=WIDE_ANSWER, status="complete")
    offline_window.chat_view.show_conversation(CONVERSATION, [*MESSAGES[:1], reply])
    QApplication.processEvents()
    view = offline_window.chat_view
    viewport = view.scroll_area.viewport().width()
    assert all(message.width() <= viewport for message in view.views)
    shown = view.views[-1]
    assert not shown.regenerate_button.visibleRegion().isEmpty(), "its actions stay in reach"
    (code,) = shown.code_blocks()
    assert code._scroller.horizontalScrollBar().maximum() > 0, "the long line scrolls sideways"
    lines = code._view.height() / code._view.fontMetrics().lineSpacing()
    assert lines < 2.5, "two lines of code stay two lines: no wrapping to spoil the indentation"
    assert view.title.text() == CONVERSATION.title and view.title.toolTip() == view.title.text()
    save(offline_window, screenshot_dir / "wide-reply.png")


def test_main_window_with_a_code_block(offline_window: MainWindow, screenshot_dir: Path) -> None:
    show_sample_chat(offline_window)
    reply = offline_window.chat_view.views[-1]
    assert [block.code() for block in reply.code_blocks()] == [
        MESSAGES[1].content.split("```python\n")[1].split("\n```")[0]
    ]
    picker = offline_window.chat_view.model_picker
    too_large = picker.item(picker.findData("llama-70b"))
    assert not too_large.isEnabled() and "too large" in too_large.text()
    assert picker.currentText() == "Default (smollm2-135m-instruct)"
    save(offline_window, screenshot_dir / "main-window.png")
    offline_window.theme.apply("dark")
    save(offline_window, screenshot_dir / "main-window-dark.png")


@pytest.mark.parametrize("width", [800, 1920])
def test_main_window_at_a_narrow_and_a_wide_width(
    offline_window: MainWindow, screenshot_dir: Path, width: int
) -> None:
    show_sample_chat(offline_window)
    offline_window.resize(width, 700)
    QApplication.processEvents()
    assert offline_window.width() == width
    save(offline_window, screenshot_dir / f"main-window-{width}px.png")


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


COLLECTIONS = [
    collection(
        name="field-notes",
        roots=["/home/ada/field-notes"],
        files=212,
        failed=2,
        chunks=1_874,
    ),
    collection(name="manuals", roots=["/home/ada/manuals"], files=37, failed=0, chunks=655),
]


def test_documents_panel_during_indexing(offline_window: MainWindow, screenshot_dir: Path) -> None:
    panel = offline_window.documents
    offline_window.leave_welcome()
    offline_window.tabs.setCurrentWidget(panel)
    panel.show_collections(COLLECTIONS)
    panel.list.setCurrentRow(0)
    progress = IngestProgress("field-notes")
    events = [
        IngestEvent(type="planned", collection="field-notes", files_total=212),
        IngestEvent(
            type="failed",
            collection="field-notes",
            path="/home/ada/field-notes/2019/scan-04.pdf",
            detail="the PDF is damaged or encrypted (could not read its page tree)",
            files_done=31,
            files_total=212,
            chunks_done=402,
        ),
        IngestEvent(
            type="indexed",
            collection="field-notes",
            path="/home/ada/field-notes/2021/herons-march.md",
            chunks=14,
            files_done=87,
            files_total=212,
            chunks_done=1_093,
        ),
    ]
    for event in events:
        progress.apply(event)
    panel.show_progress(progress)
    offline_window.status.show_state(BackendState.READY, "Ready")
    assert 0 < panel.progress_bar.value() < 100 and panel.pause_button.text() == "Pause"
    assert "87 of 212 files" in panel.progress_title.text()
    assert panel.failures.count() == 1 and panel.sync_button.isEnabled()
    save(offline_window, screenshot_dir / "documents-indexing.png")


SOURCES = [
    {
        "n": 1,
        "collection": "manuals",
        "path": "/home/ada/manuals/boiler-service.pdf",
        "page": 12,
        "snippet": "Bleed the radiators once a year, before the heating season: open the valve a "
        "quarter turn until water, not air, comes out.",
        "headings": ["Maintenance", "Radiators"],
        "score": 0.82,
    },
    {
        "n": 2,
        "collection": "manuals",
        "path": "/home/ada/manuals/house-notes.md",
        "start_line": 40,
        "end_line": 52,
        "snippet": "The boiler pressure should read 1.2 bar when cold.",
        "headings": ["Heating"],
        "score": 0.64,
    },
]
SOURCED_ANSWER = (
    "Bleed the radiators once a year before the heating season, opening each valve a quarter "
    "turn until water comes out [1]. Afterwards check that the boiler pressure reads about "
    "1.2 bar when cold, and top it up if it is lower [2]."
)


def test_answer_with_sources(offline_window: MainWindow, screenshot_dir: Path) -> None:
    show_sample_chat(offline_window)
    radiators = conversation(id="c4", title="Radiators", collections=["manuals"])
    messages = [
        message(id=5, role="user", content="How often should I bleed the radiators?"),
        message(
            id=6,
            role="assistant",
            content=SOURCED_ANSWER,
            model="hearth-smol",
            sources=SOURCES,
        ),
    ]
    offline_window.conversations._current = radiators.id
    offline_window.conversations.show_conversations([radiators, *SIDEBAR])
    offline_window.chat_view.collections_button.set_collections(COLLECTIONS)
    offline_window.chat_view.show_conversation(radiators, messages)
    reply = offline_window.chat_view.views[-1]
    assert [b.text() for b in reply.source_buttons] == [
        "[1] boiler-service.pdf, page 12",
        "[2] house-notes.md, lines 40–52",
    ]
    assert offline_window.chat_view.collections_button.text() == "Documents: manuals"
    picker = offline_window.chat_view.model_picker
    assert picker.currentText() == "Default (hearth-smol)", "the default for chats with documents"
    save(offline_window, screenshot_dir / "answer-with-sources.png")
    dialog = offline_window.chat_view.show_source(Source.model_validate(SOURCES[0]))
    save(dialog, screenshot_dir / "source-preview.png")
    dialog.close()
    offline_window.chat_view.set_collections([])  # "manuals" was removed on the Documents tab
    assert offline_window.chat_view.collections_button.text() == "Documents: none"
    assert picker.currentText() == "Default (smollm2-135m-instruct)"
    picker.select("a-deleted-model")  # a chat whose model file is gone
    assert picker.currentText() == "a-deleted-model · not installed"
    picker.set_models(MODELS, "smollm2-135m-instruct", "hearth-smol")  # e.g. after a restart
    assert picker.currentText() == "a-deleted-model · not installed"
    picker.select("llama-70b")
    assert picker.findData(MISSING) == -1 and picker.current_model() == "llama-70b"


def test_image_question(
    qtbot, offline_window: MainWindow, screenshot_dir: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image, ImageDraw

    photo = tmp_path / "beach.png"
    picture = Image.new("RGB", (320, 240), "#7dd3fc")
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 150, 320, 240), fill="#fde68a")
    draw.ellipse((220, 30, 280, 90), fill="#facc15")
    picture.save(photo)
    show_sample_chat(offline_window)
    labels = [
        {"label": "a beach", "score": 0.71},
        {"label": "the sea", "score": 0.18},
        {"label": "a desert", "score": 0.05},
    ]
    messages = [
        message(
            id=7,
            role="user",
            content="Where was this taken?",
            attachments=[
                {
                    "path": str(photo),
                    "name": "beach.png",
                    "labels": labels,
                    "vision_note": "this model cannot see the image; what it says is inferred "
                    "from CLIP's labels",
                }
            ],
        ),
        message(
            id=8,
            role="assistant",
            model="hearth-smol",
            content=(
                "It most likely shows a beach on a sunny day: sand in front, the sea and a clear "
                "sky behind. I can't see the picture itself; this comes from the image "
                "classifier's labels (a beach, 71%)."
            ),
        ),
    ]
    holiday = conversation(id="c5", title="Holiday photo")
    offline_window.conversations._current = holiday.id
    offline_window.conversations.show_conversations([holiday, *SIDEBAR])
    offline_window.chat_view.show_conversation(holiday, messages)
    (chip,) = offline_window.chat_view.views[0].image_chips
    qtbot.waitUntil(lambda: not chip.thumbnail.pixmap().isNull())
    assert chip.labels.text() == "a beach 71%\nthe sea 18%\na desert 5%"
    save(offline_window, screenshot_dir / "image-question.png")
