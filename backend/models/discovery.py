"""Finding the GGUF models other apps downloaded (and those in folders the user added), in place.

Only folders and file names are looked at here; the registry reads each file's header (through
its header cache) and leaves broken ones out of its list. A folder that cannot be read is
skipped, never an error: another app's files are never Hearth's to fix, move or delete.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backend.models.app_folders import APP_FOLDERS, Layout, folders_of
from backend.models.ollama import ollama_models
from backend.models.projectors import is_projector, pair_projector
from backend.models.split import is_later_part, unsplit_stem
from backend.settings import Settings
from backend.wire import ModelSource

FOLDER_ORIGIN: ModelSource = (
    "folder"  # the origin of models found in the user's own `model_folders`
)
# Jan keeps each model as `<model id>/model.gguf`: such a file is named after its folder.
GENERIC_STEM = "model"


@dataclass(frozen=True)
class FoundModel:
    name: str
    origin: ModelSource
    path: Path
    mmproj: Path | None = None
    problem: str | None = None  # why the place names no usable file (an Ollama manifest)


@dataclass(frozen=True)
class ModelDiscovery:
    """Which folders to look in: other apps' (unless turned off) and the user's own."""

    apps: bool = True
    folders: tuple[Path, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelDiscovery:
        folders = tuple(Path(folder).expanduser() for folder in settings.model_folders)
        return cls(apps=settings.discover_models, folders=folders)

    def find(self) -> list[FoundModel]:
        """Every model found, apps in table order, then the user's folders."""
        places: list[tuple[ModelSource, Layout, Path]] = [
            (app.origin, app.layout, folder)
            for app in (APP_FOLDERS if self.apps else ())
            for folder in folders_of(app)
        ]
        places += [(FOLDER_ORIGIN, "tree", folder) for folder in self.folders]
        return [
            model for origin, layout, folder in places for model in SCANNERS[layout](origin, folder)
        ]


def gguf_tree(origin: ModelSource, root: Path) -> list[FoundModel]:
    """Every *.gguf below `root`; a split model is listed once, by its first part."""
    found = []
    for parent, folders, files in os.walk(root):  # unreadable folders are skipped
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        names = sorted(f for f in files if f.lower().endswith(".gguf") and not f.startswith("."))
        found += _folder_models(origin, Path(parent), names)
    return found


def _folder_models(origin: ModelSource, folder: Path, names: list[str]) -> list[FoundModel]:
    paths = [folder / name for name in names]
    projectors = [p for p in paths if is_projector(p)]
    models = [p for p in paths if not is_projector(p) and not is_later_part(p)]
    lone = projectors[0] if len(projectors) == 1 else None  # serves every quantization beside it
    return [
        FoundModel(_model_name(m), origin, m, pair_projector(m, projectors, len(models)) or lone)
        for m in models
    ]


def _model_name(path: Path) -> str:
    name = unsplit_stem(path)
    if name.lower() == GENERIC_STEM:
        name = path.parent.name
    return "".join(c if c.isprintable() and c not in "/\\" else "-" for c in name)


def hf_hub(origin: ModelSource, hub: Path) -> list[FoundModel]:
    """GGUFs in the Hub cache's snapshots (`models--org--repo/snapshots/<rev>/...`); where
    several revisions hold the same file, the one `refs/main` names is listed."""
    found = []
    for repo in _subfolders(hub, "models--"):
        seen: set[Path] = set()
        for snapshot in _snapshots(repo):
            for model in gguf_tree(origin, snapshot):
                if model.path.relative_to(snapshot) not in seen:
                    seen.add(model.path.relative_to(snapshot))
                    found.append(model)
    return found


def _snapshots(repo: Path) -> list[Path]:
    try:
        main = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        main = ""
    snapshots = _subfolders(repo / "snapshots", "")
    return sorted(snapshots, key=lambda snapshot: snapshot.name != main)


def _subfolders(folder: Path, prefix: str) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if e.name.startswith(prefix) and e.is_dir()]
    except OSError:
        return []
    return [folder / name for name in sorted(names)]


def ollama(origin: ModelSource, root: Path) -> list[FoundModel]:
    return [
        FoundModel(m.name, origin, m.model or m.manifest, m.projector, m.problem)
        for m in ollama_models(root)
    ]


SCANNERS: dict[Layout, Callable[[ModelSource, Path], list[FoundModel]]] = {
    "tree": gguf_tree,
    "hf_hub": hf_hub,
    "ollama": ollama,
}
