"""Hostile folders (issue #18): a name that is not UTF-8, an unreadable file, an unreadable
subfolder. Each is indexed or reported with its reason, and none stops a run or a later sync."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backend.conftest import InProcessRealBackend
from tests.backend.inprocess_cli import run_hearth

LATIN1_NAME = b"caf\xe9.txt"  # Latin-1 'café.txt': not valid UTF-8
SHOWN_NAME = "caf\ufffd.txt"  # how Hearth shows it
DENIED = "cannot be read (Permission denied)"


def make_odd_named_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "notes.md").write_text("# Notes\n\nThe ferry leaves the harbour at seven.\n")
    with open(os.path.join(os.fsencode(folder), LATIN1_NAME), "wb") as handle:
        handle.write(b"The bakery sells quince tarts on Sundays.\n")
    return folder


def make_hostile_folder(folder: Path) -> Path:
    make_odd_named_folder(folder)
    (folder / "secret.txt").write_text("Nobody may read this file.\n")
    (folder / "locked").mkdir()
    (folder / "locked" / "inside.md").write_text("Hidden behind a locked folder.\n")
    return folder


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The hostile folder, its `secret.txt` and `locked/` unreadable: by permissions, and, as
    root (whom permissions do not stop), by refusing to open them in this process, where the
    CLI and the backend under test both run."""
    folder = make_hostile_folder(tmp_path / "hostile")
    secret, locked = folder / "secret.txt", folder / "locked"
    secret.chmod(0)
    locked.chmod(0)
    if os.geteuid() == 0:
        open_path, scandir = pathlib.Path.open, os.scandir

        def refusing_open(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self == secret:
                raise PermissionError(13, "Permission denied", str(self))
            return open_path(self, *args, **kwargs)

        def refusing_scandir(path: Any = ".") -> Any:
            if os.fsdecode(path) == str(locked):
                raise PermissionError(13, "Permission denied", os.fsdecode(path))
            return scandir(path)

        monkeypatch.setattr(pathlib.Path, "open", refusing_open)
        monkeypatch.setattr(os, "scandir", refusing_scandir)
    yield folder
    locked.chmod(0o755)  # so that pytest can clean tmp_path up
    secret.chmod(0o644)


def docs_json(*args: str) -> Any:
    result = run_hearth("docs", *args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_cli_indexes_what_it_can_and_reports_each_skipped_entry(
    hostile: Path, hearth_home: Path
) -> None:
    added = docs_json("add", str(hostile), "--collection", "hostile")
    assert added["indexed"] == 2 and added["collection"]["files"] == 2
    problems = {(p["path"], p["status"], p["reason"]) for p in added["problems"]}
    assert problems == {
        (str(hostile / "secret.txt"), "skipped", DENIED),
        (str(hostile / "locked"), "skipped", DENIED),
    }

    found = docs_json("search", "quince tarts bakery", "--collection", "hostile", "--k", "1")
    assert found[0]["source"] == str(hostile / SHOWN_NAME)
    assert "quince tarts" in found[0]["text"]

    again = docs_json("sync", "hostile")  # the second run reads the stored odd name back
    assert (again["indexed"], again["unchanged"], again["removed"]) == (0, 2, 0)
    assert again["collection"] == added["collection"]  # not even the revision moved
    assert len(again["problems"]) == 2

    shown = run_hearth("docs", "add", str(hostile), "--collection", "hostile")
    assert shown.code == 0
    assert f"skipped: {hostile / 'secret.txt'}: {DENIED}" in shown.out + shown.err
    assert "2 not indexed" in shown.out


def test_a_changed_odd_name_is_replaced_not_duplicated(tmp_path: Path, hearth_home: Path) -> None:
    odd_named = make_odd_named_folder(tmp_path / "odd")
    added = docs_json("add", str(odd_named), "--collection", "odd")
    assert (added["indexed"], added["problems"]) == (2, [])
    odd = os.path.join(os.fsencode(odd_named), LATIN1_NAME)
    with open(odd, "ab") as handle:
        handle.write(b"They also sell medlar jam.\n")
    os.utime(odd, ns=(1, 1))  # a different mtime, whatever the clock's resolution
    synced = docs_json("sync", "odd")
    assert (synced["indexed"], synced["unchanged"]) == (1, 1)
    found = docs_json("search", "medlar jam", "--collection", "odd", "--k", "5")
    from_odd = [hit for hit in found if hit["source"] == str(odd_named / SHOWN_NAME)]
    assert len(from_odd) == 1 and "medlar jam" in from_odd[0]["text"]  # the old chunk is gone
    os.remove(odd)
    removed = docs_json("sync", "odd")
    assert removed["removed"] == 1 and removed["collection"]["files"] == 1


def test_the_api_answers_events_not_a_500(backend: InProcessRealBackend, hostile: Path) -> None:
    body = {"name": "hostile-api", "paths": [str(hostile)]}
    with backend.http() as http:
        response = http.post("/hearth/documents/collections", json=body)
        assert response.status_code == 200, response.text
        events = response.json()["events"]
        by_path = {e["path"]: e for e in events if e["path"]}
        assert by_path[str(hostile / SHOWN_NAME)]["type"] == "indexed"
        for skipped in ("secret.txt", "locked"):
            event = by_path[str(hostile / skipped)]
            assert (event["type"], event["detail"]) == ("skipped", DENIED)
        assert events[-1]["type"] == "finished"
        detail = http.get("/hearth/documents/collections/hostile-api")
        assert detail.status_code == 200
        paths = {f["path"] for f in detail.json()["files"]}
        assert paths == {str(hostile / "notes.md"), str(hostile / SHOWN_NAME)}


def test_links_and_fifos_are_reported_not_silently_left_out(
    tmp_path: Path, hearth_home: Path
) -> None:
    folder = make_odd_named_folder(tmp_path / "odd")
    (folder / "link.md").symlink_to(folder / "notes.md")
    (folder / "linked-folder").symlink_to(tmp_path)
    os.mkfifo(folder / "pipe.txt")  # opening it to sniff would hang the run
    added = docs_json("add", str(folder), "--collection", "odd")
    assert added["indexed"] == 2
    assert {(Path(p["path"]).name, p["reason"]) for p in added["problems"]} == {
        ("link.md", "symbolic link (links are not followed)"),
        ("linked-folder", "symbolic link (links are not followed)"),
        ("pipe.txt", "not a regular file"),
    }


def test_odd_names_that_look_alike_keep_their_own_chunks(tmp_path: Path, hearth_home: Path) -> None:
    """b'caf\\xe9' and b'caf\\xe8' are both shown as 'caf\ufffd': re-indexing one must not
    delete the other's chunks."""
    folder = make_odd_named_folder(tmp_path / "odd")
    with open(os.path.join(os.fsencode(folder), b"caf\xe8.txt"), "wb") as handle:
        handle.write(b"The cheese shop opens at noon.\n")
    assert docs_json("add", str(folder), "--collection", "odd")["indexed"] == 3
    odd = os.path.join(os.fsencode(folder), LATIN1_NAME)
    with open(odd, "ab") as handle:
        handle.write(b"They also sell medlar jam.\n")
    os.utime(odd, ns=(1, 1))
    assert docs_json("sync", "odd")["indexed"] == 1
    found = docs_json("search", "cheese shop noon", "--collection", "odd", "--k", "1")
    assert "cheese shop" in found[0]["text"]
    assert docs_json("list")[0]["chunks"] == 3
