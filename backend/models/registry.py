"""The model registry: shipped models, the user's models folder, and GGUFs imported by path."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from backend.errors import InvalidRequestError, NotFoundError
from backend.models.gguf_info import GgufInfo, InvalidGgufError, read_gguf_info
from backend.paths import HomeLayout, repo_models_dir
from backend.settings import write_atomically

Source = Literal["shipped", "user", "imported"]


class UnknownModelError(NotFoundError, LookupError):
    """No model of that name is registered."""

    code = "model_not_found"


class ModelNameTakenError(InvalidRequestError, ValueError):
    """An import would shadow a model that already has this name."""

    status = 409
    code = "model_name_taken"


class NotAModelError(InvalidGgufError):
    """A valid GGUF that is not a chat model, such as a LoRA adapter."""


class InvalidModelNameError(InvalidRequestError, ValueError):
    """A model name that could not be looked up again, in a URL or on its own."""

    code = "invalid_model_name"


def check_model_name(name: str) -> None:
    """Refuse names that could not be looked up again: blank, path-like, or unprintable."""
    if not name.strip():
        raise InvalidModelNameError("the model name is empty; pass a name")
    if name in (".", "..") or any(c in "/\\" or not c.isprintable() for c in name):
        raise InvalidModelNameError(
            f"{name!r} cannot be a model name: it must not be '.' or '..', nor contain '/', "
            "'\\' or control characters"
        )


NO_PROJECTOR_NOTE = (
    "no vision projector: images reach this model as CLIP labels, not pixels; put its mmproj "
    "GGUF beside it (named '<model>-mmproj*.gguf' or 'mmproj-<model>*.gguf') to let it see"
)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    source: Source
    info: GgufInfo
    mmproj: Path | None = None  # the vision projector paired with this model, if any
    lora: Path | None = None  # a LoRA adapter GGUF that llama.cpp applies on top, if any

    @property
    def path(self) -> Path:
        return Path(self.info.path)

    @property
    def vision(self) -> bool:
        return self.mmproj is not None

    def to_dict(self) -> dict[str, Any]:
        vision: dict[str, Any] = {"vision": self.vision, "mmproj": str(self.mmproj or "") or None}
        if not self.vision:
            vision["vision_note"] = NO_PROJECTOR_NOTE
        adapter = {"adapter": str(self.lora)} if self.lora else {}
        return {
            "name": self.name,
            "source": self.source,
            **self.info.to_dict(),
            **vision,
            **adapter,
        }


@dataclass(frozen=True)
class BrokenModel:
    """A model file that cannot be used, and why: listed beside the models, never in their way."""

    name: str
    source: Source
    path: Path
    reason: str


_BrokenModels = list[BrokenModel]


def _is_chat_model(path: Path) -> bool:
    return "mmproj" not in path.name.lower()


def find_projector(model: Path) -> Path | None:
    """The mmproj GGUF beside `model`: named after it, or the folder's only one.

    `foo.gguf` pairs with `foo-mmproj*.gguf`, `foo.mmproj*.gguf` or `mmproj-foo*.gguf`; a lone
    `mmproj-*.gguf` pairs with the lone chat model in its folder.
    """
    folder, stem = model.parent, model.stem.lower()
    projectors = sorted(p for p in folder.glob("*.gguf") if not _is_chat_model(p))
    for projector in projectors:
        name = projector.stem.lower()
        after = name.removeprefix("mmproj-") if name.startswith("mmproj-") else None
        if name.startswith((f"{stem}-mmproj", f"{stem}.mmproj", f"{stem}_mmproj")) or (
            after is not None and (after == stem or after.startswith((f"{stem}-", f"{stem}_")))
        ):
            return projector
    models = [p for p in folder.glob("*.gguf") if _is_chat_model(p)]
    return projectors[0] if len(projectors) == 1 and len(models) == 1 else None


# A model folder holding this file names a base model and a LoRA adapter GGUF beside it:
# {"name": "hearth-smol", "base": "smollm2-135m-instruct", "adapter": "hearth-smol-lora.gguf"}
ADAPTER_MANIFEST = "adapter.json"
_Manifests = list[tuple[Path, Source]]  # (adapter.json, where it was found)


def require_model(info: GgufInfo) -> None:
    if info.general_type == "adapter":
        raise NotAModelError(
            f"{info.path} is a LoRA adapter, not a model; Hearth uses one through an "
            f"{ADAPTER_MANIFEST} beside it that names its base model"
        )
    if info.general_type != "model":
        raise NotAModelError(f"{info.path} is a GGUF of type '{info.general_type}', not a model")


def _manifest_name(manifest: Path) -> str:
    name: str = json.loads(manifest.read_text(encoding="utf-8")).get("name", "")
    return name


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
        """Every readable chat model; damaged files are skipped here, listed by `broken` and
        reported by `get`."""
        entries: dict[str, ModelEntry] = {}
        for name, source, path in self._candidates():
            if name in entries:
                continue
            try:
                info = self._info(path)
            except (InvalidGgufError, OSError):
                continue
            if info.general_type == "model":
                entries[name] = ModelEntry(name, source, info, find_projector(path))
        for manifest, source in self._adapter_manifests():
            try:
                entry = self._adapter_entry(manifest, source)
            except (InvalidGgufError, OSError, UnknownModelError, KeyError, ValueError):
                continue
            entries.setdefault(entry.name, entry)
        return list(entries.values())

    def broken(self) -> _BrokenModels:
        """The model files `list` leaves out because they cannot be read, each with the reason."""
        found = []
        for name, source, path in self._candidates():
            try:
                self._info(path)
            except (InvalidGgufError, OSError) as exc:
                found.append(BrokenModel(name, source, path, str(exc)))
        return found

    def _adapter_manifests(self) -> _Manifests:
        folders: tuple[tuple[Source, Path], ...] = (
            ("shipped", self._shipped_dir),
            ("user", self._layout.models),
        )
        return [
            (manifest, source)
            for source, folder in folders
            if folder.is_dir()
            for manifest in sorted(folder.glob(f"*/{ADAPTER_MANIFEST}"))
        ]

    def _adapter_entry(self, manifest: Path, source: Source) -> ModelEntry:
        """A base model with a LoRA adapter, named by the manifest; the base must be a model."""
        spec = json.loads(manifest.read_text(encoding="utf-8"))
        base = next((c for c in self._candidates() if c[0] == spec["base"]), None)
        if base is None:
            raise UnknownModelError(f"{manifest}: base model '{spec['base']}' is not installed")
        adapter = manifest.parent / spec["adapter"]
        if self._info(adapter).general_type != "adapter":
            raise InvalidGgufError(f"{adapter} is not a LoRA adapter GGUF")
        info = self._info(base[2])
        return ModelEntry(spec["name"], source, info, find_projector(base[2]), lora=adapter)

    def get(self, name: str) -> ModelEntry:
        for candidate, source, path in self._candidates():
            if candidate == name:
                info = self._info(path)
                require_model(info)
                return ModelEntry(name, source, info, find_projector(path))
        for manifest, manifest_source in self._adapter_manifests():
            if _manifest_name(manifest) == name:
                return self._adapter_entry(manifest, manifest_source)
        known = ", ".join(e.name for e in self.list()) or "none"
        raise UnknownModelError(f"unknown model '{name}' (known models: {known})")

    def _taken_names(self) -> set[str]:
        """Every name a model answers to, listed or not: files, imports and adapter manifests."""
        names = {candidate for candidate, _, _ in self._candidates()}
        return names | {_manifest_name(manifest) for manifest, _ in self._adapter_manifests()}

    def import_gguf(self, path: Path, name: str | None = None) -> ModelEntry:
        """Register a GGUF by reference after validating it; the file is not copied."""
        path = Path(path).expanduser().resolve()
        name = path.stem if name is None else name
        check_model_name(name)
        info = read_gguf_info(path)
        require_model(info)
        if name in self._taken_names():
            raise ModelNameTakenError(f"a model named '{name}' exists; pass another name")
        imports = self._imports() | {name: str(path)}
        self._layout.ensure()
        write_atomically(self._imports_file, json.dumps(imports, indent=2))
        return ModelEntry(name, "imported", info, find_projector(path))
