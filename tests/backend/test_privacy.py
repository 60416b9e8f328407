"""Files at rest are private: everything Hearth writes in HEARTH_HOME is 0600/0700, and an
install from before that is tightened when the backend starts."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from backend.paths import PRIVATE_UMASK, HomeLayout
from tests.backend.conftest import launch, prepare_home

GROUP_OR_OTHERS = 0o077


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def readable_by_others(root: Path) -> list[str]:
    """Every file or folder under root (root included) that group or others may use."""
    paths = [root, *root.rglob("*")]
    return [
        f"{path.relative_to(root)} {stat.S_IMODE(path.lstat().st_mode):o}"
        for path in paths
        if not path.is_symlink() and path.lstat().st_mode & GROUP_OR_OTHERS
    ]


def test_a_fresh_home_after_a_conversation_and_a_docs_add_is_private(
    tmp_path: Path, tiny_gguf: Path
) -> None:
    with umask(PRIVATE_UMASK):  # the model and settings this test puts there: not the subject
        layout = prepare_home(tmp_path / "home", tiny_gguf)
    (layout.models / tiny_gguf.name).chmod(0o600)  # shutil.copy kept the fixture's mode
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "hearth.md").write_text("The hearth keeps the house warm in winter.\n")
    with umask(0o022):  # a usual login umask: the backend must not rely on it
        running = launch(layout)
    try:
        with closing(running.client()) as client:
            conversation = client.conversations.create(title="Private")
            list(client.conversations.send(conversation.id, "Hello"))
            list(client.documents.add("notes", [notes]))
            assert client.documents.search("warm winter", ["notes"])
    finally:
        running.stop()
    assert layout.chroma.is_dir() and layout.database.is_file()
    assert readable_by_others(layout.root) == []


def test_an_existing_open_home_is_tightened_on_start(tmp_path: Path, tiny_gguf: Path) -> None:
    with umask(0o022):  # what an install from before the private umask looks like
        layout = prepare_home(tmp_path / "home", tiny_gguf)
        (layout.root / "chroma").mkdir()
    layout.root.chmod(0o755)
    layout.settings.chmod(0o644)
    assert readable_by_others(layout.root)
    launch(layout).stop()
    assert stat.S_IMODE(layout.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(layout.settings.stat().st_mode) == 0o600
    assert stat.S_IMODE(layout.chroma.stat().st_mode) == 0o700


def test_a_home_is_created_private(tmp_path: Path) -> None:
    with umask(0o022):
        layout = HomeLayout(tmp_path / "new" / "home").ensure()
    for folder in (layout.root, layout.models, layout.logs):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
