"""The source preview shows a cited passage in its surroundings (#20 defect 15): the text
before and after it in its file, with the passage highlighted."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu

from backend.wire import Source
from desktop.documents.source_preview import HIGHLIGHT, SURROUNDINGS
from desktop.main_window import MainWindow
from tests.desktop.test_chat import stored_messages, wait_for_reply
from tests.desktop.test_screenshots import save, screenshot_dir  # noqa: F401 (a fixture)
from tests.inprocess_backend import InProcessBackend

INDEX_TIMEOUT_MS = 120_000


def index_rivers(qtbot, window: MainWindow, tmp_path: Path, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    """A collection "Rivers" of one Markdown file of `count` numbered facts, indexed through
    the Documents panel; the facts, in order."""
    folder = tmp_path / "Rivers"
    folder.mkdir()
    facts = [f"Fact {i} says the river {i} is {i * 3} km long." for i in range(count)]
    (folder / "rivers.md").write_text("# Rivers\n\n" + " ".join(facts) + "\n")
    panel = window.documents
    panel.add_folders("Rivers", [str(folder)])
    qtbot.waitUntil(lambda: not panel.queue.running, timeout=INDEX_TIMEOUT_MS)
    return facts


def test_the_preview_shows_the_text_around_the_passage(
    qtbot,
    window: MainWindow,
    fake_backend: InProcessBackend,
    tmp_path: Path,
    screenshot_dir: Path,  # noqa: F811 (the fixture imported above)
) -> None:  # type: ignore[no-untyped-def]
    facts = index_rivers(qtbot, window, tmp_path, 120)
    library = fake_backend.services.documents
    (hit,) = library.search("Fact 60 says the river 60 is 180 km long", ["Rivers"], 1, "keyword")
    source = Source(
        n=1,
        collection="Rivers",
        path=hit.source,
        start_line=hit.start_line,
        end_line=hit.end_line,
        headings=hit.headings,
        snippet=hit.text,
        score=hit.score,
    )
    dialog = window.chat_view.show_source(source)
    before_passage = facts[[i for i, f in enumerate(facts) if f in hit.text][0] - 1]
    qtbot.waitUntil(lambda: before_passage in dialog.passage.toPlainText())
    shown = dialog.passage.toPlainText()
    assert hit.text.replace("\n", " ") in shown.replace("\n", " ")
    assert len(shown) > len(hit.text) * 2, "the text after it is shown too"
    page = dialog.passage.toHtml()
    dark = window.theme.dark
    assert HIGHLIGHT[dark] in page and SURROUNDINGS[dark] in page
    save(dialog, screenshot_dir / "source-preview-surroundings.png")


def test_a_quick_action_on_a_cited_document_reads_the_whole_document(
    qtbot,
    window: MainWindow,
    fake_backend: InProcessBackend,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    """#20: quick actions on a document in a collection, from its source preview."""
    index_rivers(qtbot, window, tmp_path, 40)
    library = fake_backend.services.documents
    (hit,) = library.search("Fact 30 says the river 30", ["Rivers"], 1, "keyword")
    source = Source(n=1, collection="Rivers", path=hit.source, snippet=hit.text, score=1.0)
    dialog = window.chat_view.show_source(source)
    assert dialog.actions_button.isVisibleTo(dialog)
    qtbot.mouseClick(dialog.actions_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.actions_button.findChild(QMenu) is not None)
    menu = dialog.actions_button.findChild(QMenu)
    next(a for a in menu.actions() if a.text() == "Summarize").trigger()
    qtbot.waitUntil(lambda: not dialog.isVisible())
    wait_for_reply(qtbot, window)
    asked = stored_messages(window)[0]["content"]
    assert asked.startswith("Summarize the following text")
    assert "Fact 0 says" in asked and "Fact 39 says" in asked, "the whole document"
