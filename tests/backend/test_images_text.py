"""The text in pictures (#19): read by `images label`, put into an image question's prompt,
kept by the image index and searched with BM25 fused with CLIP, and the search's cut-off;
forgetting an indexed folder (#20, defect 13)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from backend.client import HearthClient
from backend.discovery import load_or_create_token
from backend.documents.vector_store import VectorStore
from backend.images.clip import ClipModel
from backend.images.index import ImageIndex
from backend.images.indexed_folders import FolderRecord
from backend.images.service import ImageService
from backend.images.text import might_hold_text
from backend.images.text_search import CUTOFF_LOGITS, Candidate, ranked_hits
from backend.llm.types import ChatRequest
from backend.paths import HomeLayout
from backend.wire import UserEvent
from tests.backend.conftest import TinyClip
from tests.backend.fakes import FakeProvider
from tests.backend.inprocess_cli import run_hearth
from tests.backend.test_images_index import INDEX_SCRIPT, indexed_ids, make_pictures
from tests.inprocess_backend import InProcessBackend, serve_in_process
from tests.pictures import photo, terminal_screenshot


@pytest.fixture(autouse=True)
def ocr_started() -> None:
    """The process's OCR engine, started before a command runs in this process: importing
    OpenCV sets LD_LIBRARY_PATH once per process, which `run_hearth` would take for a leak."""
    from backend.ocr import ocr_engine

    ocr_engine()


def run_json(*args: str) -> Any:
    result = run_hearth("images", *args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_label_json_reads_the_error_in_a_terminal_screenshot(
    hearth_home: Path, tiny_clip: TinyClip, tmp_path: Path
) -> None:
    tiny_clip.install(hearth_home, as_default=True)
    shot = terminal_screenshot(tmp_path / "error.png")
    found = run_json("label", str(shot), "--top", "3")
    assert set(found) == {"labels", "text", "lines"} and len(found["labels"]) == 3
    assert "Connection refused" in found["text"]
    assert "curl" in found["text"].splitlines()[0]  # reading order: the command first
    error_line = next(line for line in found["lines"] if "refused" in line["text"])
    assert len(error_line["box"]) == 4 and 0.5 <= error_line["confidence"] <= 1.0
    xs = [x for x, _ in error_line["box"]]
    assert max(xs) - min(xs) > 300, "the box spans the long error line"

    plain = run_hearth("images", "label", str(shot))
    assert "Text read from the image:" in plain.out and "Connection refused" in plain.out
    nothing = run_json("label", str(photo(tmp_path / "field.jpg", seed=1)))
    assert (nothing["text"], nothing["lines"]) == ("", [])
    skipped = run_json("label", str(shot), "--no-text")
    assert (skipped["text"], skipped["lines"]) == ("", [])


def test_the_text_check_passes_screenshots_and_stops_photos(tmp_path: Path) -> None:
    from PIL import Image

    shot = Image.open(terminal_screenshot(tmp_path / "error.png"))
    assert might_hold_text(shot)
    for seed in range(6):
        assert not might_hold_text(Image.open(photo(tmp_path / f"{seed}.jpg", seed)))


@pytest.fixture
def image_backend(hearth_home: Path, tiny_gguf: Path, tiny_clip: TinyClip) -> Iterator[Any]:
    """The real backend app in this process with the real image service; the chat model is
    scripted, so the prompt it was given can be read."""
    import shutil

    tiny_clip.install(hearth_home)
    HomeLayout(hearth_home).ensure()
    shutil.copy(tiny_gguf, HomeLayout(hearth_home).models / "tiny.gguf")
    provider = FakeProvider(models=("tiny",), tokens=("It ", "says ", "so."))
    backend = serve_in_process(hearth_home, provider, image_model=tiny_clip.name)
    services = backend.services
    services.images = ImageService(backend.layout, services.settings, services.vectors)
    yield backend
    backend.stop()
    provider.close()


def test_an_image_question_puts_the_read_text_in_the_prompt_and_notes_the_model_is_blind(
    image_backend: InProcessBackend, tmp_path: Path
) -> None:
    shot = terminal_screenshot(tmp_path / "error.png")
    token = load_or_create_token(image_backend.layout)
    with closing(HearthClient(image_backend.info.url, token)) as client:
        chat = client.conversations.create()
        events = list(
            client.conversations.send(chat.id, "What does this error say?", images=[str(shot)])
        )
    (request,) = image_backend.provider.requests
    assert isinstance(request, ChatRequest)
    prompt = request.messages[-1]["content"]
    assert 'Text read from the image:\n"""\n' in prompt
    framed = prompt.split('Text read from the image:\n"""\n', 1)[1]
    assert "Connection refused" in framed.split('"""', 1)[0]
    assert prompt.index("Image 1 (error.png): ") < prompt.index("Text read from the image")
    assert "inferred from labels and text" in prompt
    assert prompt.endswith("What does this error say?")
    asked = next(event for event in events if isinstance(event, UserEvent))
    (attachment,) = asked.message.attachments  # the stored question, as the app sees it
    assert "Connection refused" in attachment.text
    assert attachment.vision_note is not None and "labels and the text" in attachment.vision_note


def screenshots_among_photos(folder: Path, photos: int = 5) -> tuple[Path, Path]:
    folder.mkdir()
    for seed in range(photos):
        photo(folder / f"holiday-{seed}.jpg", seed)
    error = terminal_screenshot(folder / "error.png")
    build = terminal_screenshot(folder / "build.png", ["$ make", "Build finished: 42 targets"])
    return error, build


def test_search_finds_a_screenshot_by_a_phrase_of_its_text_among_photos(
    hearth_home: Path, tiny_clip: TinyClip, tmp_path: Path
) -> None:
    tiny_clip.install(hearth_home, as_default=True)
    error, build = screenshots_among_photos(tmp_path / "pictures")
    summary = run_json("index", str(tmp_path / "pictures"))
    assert (summary["embedded"], summary["with_text"]) == (7, 2)

    hits = run_json("search", "connection refused", "--all")
    assert hits[0]["path"] == str(error.resolve())
    assert "Connection refused" in hits[0]["text"]
    assert all(hit["text"] is None for hit in hits[1:]), "no other picture says it"
    built = run_json("search", "build finished", "--all")
    assert built[0]["path"] == str(build.resolve())


def open_index(clip: ClipModel, read_text: bool = True) -> ImageIndex:
    layout = HomeLayout.current().ensure()
    return ImageIndex(VectorStore(layout, None), clip, FolderRecord.of(layout), read_text)


def test_reading_text_can_be_off_and_a_later_run_with_it_reads_what_was_skipped(
    tiny_clip: TinyClip, tmp_path: Path
) -> None:
    clip = ClipModel(tiny_clip.folder)
    error, _ = screenshots_among_photos(tmp_path / "pictures", photos=2)
    first = open_index(clip, read_text=False).index_all(tmp_path / "pictures")
    assert (first.embedded, first.with_text) == (4, 0)
    index = open_index(clip)
    assert index.search("connection refused", cutoff=False)[0].text is None
    again = index.index_all(tmp_path / "pictures")
    assert (again.embedded, again.with_text) == (4, 2), "pictures indexed without OCR are read"
    assert index.search("connection refused")[0].path == str(error.resolve())
    assert index.index_all(tmp_path / "pictures").skipped == 4


def test_the_cut_off_leaves_out_pictures_far_less_likely_than_the_best(
    tiny_clip: TinyClip, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(8):
        photo(folder / f"{seed}.jpg", seed, size=(96, 64))
    clip = ClipModel(tiny_clip.folder)
    index = open_index(clip)
    index.index_all(folder)
    everything = index.search("a red boat", k=8, cutoff=False)
    assert len(everything) == 8, "without the cut-off, every picture"
    best = everything[0].score
    clip.logit_scale = 4 * CUTOFF_LOGITS / (best - everything[-1].score)  # the last is out
    kept = index.search("a red boat", k=8)
    margin = CUTOFF_LOGITS / clip.logit_scale
    assert [hit.path for hit in kept] == [
        hit.path for hit in everything if best - hit.score <= margin
    ]
    assert 1 <= len(kept) < 8


def candidate(name: str, similarity: float, text: str | None = None) -> Candidate:
    return Candidate(name, f"/pictures/{name}", similarity, text)


def test_the_cut_off_is_in_the_models_logits_and_text_matches_rank_first() -> None:
    nearest = [candidate("boat", 0.30), candidate("sea", 0.27), candidate("cat", 0.20)]
    kept = ranked_hits(nearest, [], 10, logit_scale=100.0)  # 3 and 10 logits behind
    assert [hit.path for hit in kept] == ["/pictures/boat", "/pictures/sea"]
    loose = ranked_hits(nearest, [], 10, logit_scale=17.0)  # 0.10 is 1.7 logits there
    assert len(loose) == 3
    said = candidate("shot", 0.05, "connection refused")  # far below CLIP's cut-off
    fused = ranked_hits(nearest, [said], 10, logit_scale=100.0)
    assert [hit.path for hit in fused][:1] == ["/pictures/shot"]
    assert fused[0].text == "connection refused" and fused[0].score == 0.05
    assert len(ranked_hits(nearest, [said], 2, logit_scale=None)) == 2


def test_removing_an_indexed_folder_takes_its_pictures_out_of_search(
    hearth_home: Path, tiny_clip: TinyClip, tmp_path: Path
) -> None:
    tiny_clip.install(hearth_home, as_default=True)
    for name in ("kept", "dropped"):
        (tmp_path / name).mkdir()
        for seed in range(3):
            photo(tmp_path / name / f"{seed}.jpg", seed, size=(96, 64))
        run_json("index", str(tmp_path / name))
    removed = run_json("remove", str(tmp_path / "dropped"))
    assert removed == {"folder": str((tmp_path / "dropped").resolve()), "images": 3}
    assert [f["folder"] for f in run_json("folders")] == [str((tmp_path / "kept").resolve())]
    hits = run_json("search", "a photo", "--all", "--k", "10")
    assert {Path(hit["path"]).parent.name for hit in hits} == {"kept"} and len(hits) == 3
    again = run_hearth("images", "remove", str(tmp_path / "dropped"))
    assert again.code == 1 and "not an indexed image folder" in again.err


def test_a_run_killed_mid_way_then_run_again_keeps_each_picture_with_its_text(
    tiny_clip: TinyClip, tmp_path: Path, hearth_home: Path
) -> None:
    folder = tmp_path / "pictures"
    make_pictures(folder, 40)
    shot = terminal_screenshot(folder / "zz-error.png")  # in the last batch
    command = [sys.executable, "-c", INDEX_SCRIPT, str(tiny_clip.folder), str(folder)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert int(child.stdout.readline()) < 41  # killed after its first batch
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    subprocess.run(command, check=True, capture_output=True)

    index = open_index(ClipModel(tiny_clip.folder))
    assert len(indexed_ids(index)) == 41
    stored = {found.metadata["path"]: found.metadata for found in index._collection.get()}
    assert "Connection refused" in stored[str(shot.resolve())]["text"]
    assert all("text" in metadata for metadata in stored.values()), "each one read once"
    assert index.search("connection refused")[0].path == str(shot.resolve())
