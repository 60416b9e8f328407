"""Which image folders each CLIP model has indexed: HEARTH_HOME/images/indexed_folders.json.

Each model keeps its vectors in a collection of its own (embedding spaces differ), so vectors
of two models never mix. But after the image model changes, search would quietly find nothing
in the folders only the old model indexed: this record says which folders to index again.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from backend.errors import InvalidRequestError, NotFoundError
from backend.paths import HomeLayout
from backend.settings import write_atomically
from backend.wire import IndexedFolder

_LOCK = threading.Lock()  # the backend's indexing threads share one record file


class ReindexNeededError(InvalidRequestError):
    """Nothing is indexed with the current image model, though folders were with another."""

    code = "reindex_needed"


class FolderNotIndexedError(NotFoundError):
    """A folder to forget that no image model indexed."""

    code = "folder_not_indexed"


class FolderRecord:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of(cls, layout: HomeLayout) -> FolderRecord:
        return cls(layout.root / "images" / "indexed_folders.json")

    def _read(self) -> dict[str, list[str]]:
        try:
            value = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # none yet, or unreadable: nothing is known
            return {}
        return value if isinstance(value, dict) else {}

    def add(self, folder: Path, model: str) -> None:
        """Note that `model` indexes `folder` (a full path)."""
        with _LOCK:
            known = self._read()
            models = known.setdefault(str(folder), [])
            if model in models:
                return
            models.append(model)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps(known, indent=2, sort_keys=True))

    def recorded(self, folder: Path) -> tuple[Path, list[str]]:
        """`folder` as the record spells it (as given, or resolved), and the image models that
        indexed it."""
        known = self._read()
        for spelling in (folder, folder.resolve()):
            if str(spelling) in known:
                return spelling, known[str(spelling)]
        raise FolderNotIndexedError(
            f"{folder} is not an indexed image folder; see: hearth images folders"
        )

    def remove(self, folder: Path) -> None:
        """Forget `folder`: its vectors must be gone first, so that a crash between the two
        leaves a folder listed with fewer pictures, never pictures of an unlisted folder."""
        with _LOCK:
            known = self._read()
            if known.pop(str(folder), None) is not None:
                write_atomically(self.path, json.dumps(known, indent=2, sort_keys=True))

    def folders(self, current_model: str) -> list[IndexedFolder]:
        return [
            IndexedFolder(folder=folder, models=models, needs_reindex=current_model not in models)
            for folder, models in sorted(self._read().items())
        ]

    def stale(self, current_model: str) -> list[IndexedFolder]:
        """The folders to index again before the current model's search can find their images."""
        return [folder for folder in self.folders(current_model) if folder.needs_reindex]


def indexed_folders(layout: HomeLayout, image_model: str) -> list[IndexedFolder]:
    """The folders image models indexed, judged against `image_model` (a settings name); its
    manifest names the model, so its towers need not be loaded for this."""
    from backend.images.clip import ClipManifest
    from backend.images.registry import find_clip_model

    model = ClipManifest.read(find_clip_model(layout, image_model)).name
    return FolderRecord.of(layout).folders(model)


def reindex_needed(stale: list[IndexedFolder], model: str) -> ReindexNeededError:
    folders = "; ".join(f"{f.folder} (by {', '.join(f.models)})" for f in stale)
    return ReindexNeededError(
        f"no images are indexed with the image model '{model}', but these folders were indexed "
        f"with another model: {folders}. Index them again with '{model}': "
        "hearth images index --reindex, or POST /hearth/images/index with each folder"
    )
