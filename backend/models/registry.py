"""The model registry: shipped models, the user's models folder, and GGUFs imported by path."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from backend.models.gguf_info import GgufInfo, InvalidGgufError, read_gguf_info
from backend.paths import HomeLayout, repo_models_dir
from backend.settings import write_atomically

Source = Literal["shipped", "user", "imported"]


class UnknownModelError(LookupError):
    """No model of that name is registered."""


class ModelNameTakenError(ValueError):
    """An import would shadow a model that already has this name."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    source: Source
    info: GgufInfo

    @property
    def path(self) -> Path:
        return Path(self.info.path)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, **self.info.to_dict()}


def _is_chat_model(path: Path) -> bool:
    return "mmproj" not in path.name.lower()


def packaged_models(shipped_dir: Path) -> list[tuple[str, Path]]:
    """Base models that arrive as PyPI packages (listed in models/packaged.json), if installed.

    The package is located without importing it: such packages may import things Hearth lacks.
    """
    listing = shipped_dir / "packaged.json"
    if not listing.exists():
        return []
    found = []
    for model in json.loads(listing.read_text(encoding="utf-8")):
        spec = importlib.util.find_spec(model["package"])
        if spec is not None and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))) / model["file"]
            if path.exists():
                found.append((model["name"], path))
    return found


class ModelRegistry:
    """Lists models by name; metadata is cached per file until it changes on disk."""

    def __init__(self, layout: HomeLayout, shipped_dir: Path | None = None) -> None:
        self._layout = layout
        self._shipped_dir = shipped_dir if shipped_dir is not None else repo_models_dir()
        self._cache: dict[tuple[str, int, int], GgufInfo] = {}

    @property
    def _imports_file(self) -> Path:
        return self._layout.models / "imports.json"

    def _imports(self) -> dict[str, str]:
        if not self._imports_file.exists():
            return {}
        data: dict[str, str] = json.loads(self._imports_file.read_text(encoding="utf-8"))
        return data

    def _info(self, path: Path) -> GgufInfo:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in self._cache:
            self._cache[key] = read_gguf_info(path)
        return self._cache[key]

    def _candidates(self) -> list[tuple[str, Source, Path]]:
        found: list[tuple[str, Source, Path]] = [
            (name, "shipped", path) for name, path in packaged_models(self._shipped_dir)
        ]
        for source, folder in (("shipped", self._shipped_dir), ("user", self._layout.models)):
            if folder.is_dir():
                for path in sorted(folder.rglob("*.gguf")):
                    if _is_chat_model(path):
                        found.append((path.stem, source, path))  # type: ignore[arg-type]
        found += [(name, "imported", Path(p)) for name, p in self._imports().items()]
        return found

    def list(self) -> list[ModelEntry]:
        """Every readable chat model; damaged files are skipped here and reported by `get`."""
        entries: dict[str, ModelEntry] = {}
        for name, source, path in self._candidates():
            if name in entries:
                continue
            try:
                info = self._info(path)
            except (InvalidGgufError, OSError):
                continue
            if info.general_type == "model":
                entries[name] = ModelEntry(name, source, info)
        return list(entries.values())

    def get(self, name: str) -> ModelEntry:
        for candidate, source, path in self._candidates():
            if candidate == name:
                return ModelEntry(name, source, self._info(path))
        known = ", ".join(e.name for e in self.list()) or "none"
        raise UnknownModelError(f"unknown model '{name}' (known models: {known})")

    def import_gguf(self, path: Path, name: str | None = None) -> ModelEntry:
        """Register a GGUF by reference after validating it; the file is not copied."""
        path = Path(path).expanduser().resolve()
        info = read_gguf_info(path)
        name = name or path.stem
        if any(candidate == name for candidate, _, _ in self._candidates()):
            raise ModelNameTakenError(f"a model named '{name}' exists; pass another name")
        imports = self._imports() | {name: str(path)}
        self._layout.ensure()
        write_atomically(self._imports_file, json.dumps(imports, indent=2))
        return ModelEntry(name, "imported", info)
