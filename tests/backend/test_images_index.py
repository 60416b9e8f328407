"""Image search over a folder: round trips, incremental re-indexing and a kill in the middle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from backend.documents.vector_store import VectorStore
from backend.images.clip import ClipModel
from backend.images.index import ImageIndex, image_id
from backend.paths import HomeLayout
from tests.backend.conftest import TinyClip
from tests.backend.inprocess_cli import run_hearth


def make_pictures(folder: Path, count: int, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        pixels = rng.integers(0, 255, (24 + i % 7, 30, 3), dtype=np.uint8)
        path = folder / f"picture-{i:03d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def open_index(clip_folder: Path, home: Path | None = None) -> ImageIndex:
    layout = (HomeLayout(home) if home else HomeLayout.current()).ensure()
    return ImageIndex(VectorStore(layout, None), ClipModel(clip_folder))


def indexed_ids(index: ImageIndex) -> list[str]:
    return [stored.id for stored in index._collection.get()]


def test_each_image_is_its_own_nearest_neighbour(tiny_clip: TinyClip, tmp_path: Path) -> None:
    pictures = make_pictures(tmp_path / "photos", 6)
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    (tmp_path / "photos" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    index = open_index(tiny_clip.folder)
    progress = list(index.index_folder(tmp_path / "photos"))[-1]
    assert (progress.done, progress.total, progress.embedded) == (7, 7, 6)
    assert list(progress.failures) == [str((tmp_path / "photos" / "broken.png").resolve())]
    for picture in pictures:
        best = index.similar(picture, k=3)[0]
        assert best.path == str(picture.resolve()) and best.score > 0.999
    hits = index.search("a photo of a red car", k=4)
    assert len(hits) == 4 and all(-1 <= hit.score <= 1 for hit in hits)


def test_reindexing_skips_unchanged_replaces_changed_and_forgets_deleted(
    tiny_clip: TinyClip, tmp_path: Path
) -> None:
    pictures = make_pictures(tmp_path / "photos", 5)
    index = open_index(tiny_clip.folder)
    list(index.index_folder(tmp_path / "photos"))
    pictures[0].unlink()
    Image.new("RGB", (20, 20), "purple").save(pictures[1])
    again = list(index.index_folder(tmp_path / "photos"))[-1]
    assert (again.embedded, again.skipped, again.removed) == (1, 3, 1)
    assert index.count() == 4
    assert index.similar(pictures[1], k=1)[0].path == str(pictures[1].resolve())


INDEX_SCRIPT = """
import sys
from pathlib import Path
from backend.documents.vector_store import VectorStore
from backend.images.clip import ClipModel
from backend.images.index import ImageIndex
from backend.paths import HomeLayout
index = ImageIndex(VectorStore(HomeLayout.current().ensure(), None), ClipModel(Path(sys.argv[1])))
for progress in index.index_folder(Path(sys.argv[2])):
    print(progress.done, flush=True)
"""


def test_a_killed_indexing_run_resumes_to_the_same_index(
    tiny_clip: TinyClip, tmp_path: Path, hearth_home: Path
) -> None:
    make_pictures(tmp_path / "photos", 80)
    command = [sys.executable, "-c", INDEX_SCRIPT, str(tiny_clip.folder), str(tmp_path / "photos")]
    env = os.environ | {"HEARTH_HOME": str(hearth_home)}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    assert int(child.stdout.readline()) < 80  # killed after its first batch, mid-run
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    assert result.stdout.split()[-1] == "80"

    clean_home = tmp_path / "clean-home"
    subprocess.run(
        command, check=True, capture_output=True, env=env | {"HEARTH_HOME": str(clean_home)}
    )
    resumed = open_index(tiny_clip.folder)
    expected = sorted(image_id(p.resolve()) for p in (tmp_path / "photos").glob("*.png"))
    assert indexed_ids(resumed) == expected
    assert indexed_ids(open_index(tiny_clip.folder, clean_home)) == expected


def test_cli_index_search_and_similar(
    tiny_clip: TinyClip, tmp_path: Path, hearth_home: Path
) -> None:
    tiny_clip.install(hearth_home, as_default=True)
    pictures = make_pictures(tmp_path / "photos", 3)

    def run(*args: str) -> Any:
        result = run_hearth("images", *args, "--json")
        assert result.code == 0, result.err
        return json.loads(result.out)

    assert run("index", str(tmp_path / "photos"))["embedded"] == 3
    assert len(run("search", "a dog on a beach", "--k", "2")) == 2
    assert run("similar", str(pictures[2]))[0]["path"] == str(pictures[2].resolve())


def test_stopping_early_keeps_the_batches_already_embedded(
    tiny_clip: TinyClip, tmp_path: Path
) -> None:
    make_pictures(tmp_path / "photos", 40)
    index = open_index(tiny_clip.folder)
    steps = index.index_folder(tmp_path / "photos")
    first = next(steps)
    assert first.done == first.embedded == 16
    steps.close()  # a cancelled run: what was embedded is written, nothing more
    assert index.count() == 16
    rest = index.index_all(tmp_path / "photos")
    assert (rest.skipped, rest.embedded, index.count()) == (16, 24, 40)


def test_indexing_embeds_as_one_image_alone_would(tiny_clip: TinyClip, tmp_path: Path) -> None:
    pictures = make_pictures(tmp_path / "photos", 20)
    index = open_index(tiny_clip.folder)
    index.index_all(tmp_path / "photos")
    stored = index._collection.get(with_vectors=True)
    by_path = {found.metadata["path"]: found.vector for found in stored}
    model = ClipModel(tiny_clip.folder)
    for picture in pictures:
        alone = model.embed_images([Image.open(picture).convert("RGB")])[0]
        assert float(alone @ by_path[str(picture.resolve())]) > 0.9999
