"""The source preview shows a cited passage in its surroundings (#20 defect 15): the text
before and after it in its file, with the passage highlighted."""

from __future__ import annotations

from pathlib import Path

from backend.wire import Source
from desktop.documents.source_preview import HIGHLIGHT, SURROUNDINGS
from desktop.main_window import MainWindow
from tests.desktop.test_screenshots import save, screenshot_dir  # noqa: F401 (a fixture)
from tests.inprocess_backend import InProcessBackend

INDEX_TIMEOUT_MS = 120_000


def test_the_preview_shows_the_text_around_the_passage(
    qtbot,
    window: MainWindow,
    fake_backend: InProcessBackend,
    tmp_path: Path,
    screenshot_dir: Path,  # noqa: F811 (the fixture imported above)
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "Rivers"
    folder.mkdir()
    facts = [f"Fact {i} says the river {i} is {i * 3} km long." for i in range(120)]
    (folder / "rivers.md").write_text("# Rivers\n\n" + " ".join(facts) + "\n")
    panel = window.documents
    panel.add_folders("Rivers", [str(folder)])
    qtbot.waitUntil(lambda: not panel.queue.running, timeout=INDEX_TIMEOUT_MS)
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
