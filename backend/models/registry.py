"""The model registry: shipped models, the user's models folder, GGUFs imported by path, and
the models other apps downloaded (found by `discovery`, used in place, never changed)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from backend.errors import InvalidRequestError, NotFoundError
from backend.models.discovery import FoundModel, ModelDiscovery
from backend.models.download_record import downloaded_repo, downloads_root
from backend.models.gguf_info import GgufInfo, InvalidGgufError, read_gguf_info
from backend.models.header_cache import HeaderCache
from backend.models.model_settings import ModelSettingsStore
from backend.models.projectors import find_projector, is_projector
from backend.models.split import is_later_part, missing_part, other_parts, unsplit_stem, whole_model
from backend.paths import HomeLayout, repo_models_dir
from backend.settings import write_atomically
from backend.wire import ModelSettings, ModelSource

Source = ModelSource
# Hearth's own: every other source is an app's
LOCAL_SOURCES = ("shipped", "user", "imported", "downloaded")


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
    settings: ModelSettings = field(default_factory=ModelSettings)  # its own load settings

    @property
    def path(self) -> Path:
        return Path(self.info.path)

    @property
    def vision(self) -> bool:
        return self.mmproj is not None

    @property
    def discovered(self) -> bool:
        """Found in another app's folder or one of `model_folders`: never Hearth's to delete."""
        return self.source not in LOCAL_SOURCES

    @property
    def repo(self) -> str | None:
        """The Hugging Face repo a model Hearth downloaded came from."""
        return downloaded_repo(self.path) if self.source == "downloaded" else None

    def context_size(self, default: int) -> int:
        """The context it loads with: its own setting, else `default`, at most its trained one."""
        wanted = self.settings.context_size or default
        return min(wanted, self.info.context_length or wanted)

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
            **({"repo": self.repo} if self.repo else {}),
            "settings": self.settings,
        }


@dataclass(frozen=True)
class BrokenModel:
    """A model file that cannot be used, and why: listed beside the models, never in their way."""

    name: str
    source: Source
    path: Path
    reason: str


_BrokenModels = list[BrokenModel]


@dataclass(frozen=True)
class Candidate:
    """A file that may be a model, under the name it answers to."""

    name: str
    source: Source
    path: Path
    mmproj: Path | None = None
    paired: bool = False  # discovery paired the projector; else it is looked for beside the file
    problem: str | None = None  # why the place names no usable file

    def projector(self) -> Path | None:
        return self.mmproj if self.paired else find_projector(self.path)


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
    """Lists models by name; metadata is cached per file (on disk) until the file changes.

    With a `discovery`, the models other apps downloaded are listed after Hearth's own; one
    whose name is taken is called `name@origin` (`name@origin-<hash of its path>` if that is
    taken too), and a file already listed under another name is not listed twice.
    """

    def __init__(
        self,
        layout: HomeLayout,
        shipped_dir: Path | None = None,
        discovery: ModelDiscovery | None = None,
    ) -> None:
        self._layout = layout
        self._shipped_dir = shipped_dir if shipped_dir is not None else repo_models_dir()
        self._discovery = discovery
        self._headers = HeaderCache(layout.models / "header_cache.json")
        self._settings = ModelSettingsStore(layout.models / "model_settings.json")

    @property
    def _imports_file(self) -> Path:
        return self._layout.models / "imports.json"

    def _imports(self) -> dict[str, str]:
        if not self._imports_file.exists():
            return {}
        data: dict[str, str] = json.loads(self._imports_file.read_text(encoding="utf-8"))
        return data

    def _info(self, path: Path) -> GgufInfo:
        return self._headers.info(path)

    def _model_info(self, path: Path) -> GgufInfo:
        """A model's metadata; a split model's counts every part, and a missing part breaks it."""
        others = []
        for part in other_parts(path):
            try:
                others.append(self._info(part))
            except FileNotFoundError:
                raise missing_part(path, part) from None
        return whole_model(self._info(path), others)

    def _local(self) -> list[Candidate]:
        found = [
            Candidate(name, "shipped", path) for name, path in packaged_models(self._shipped_dir)
        ]
        folders: tuple[tuple[Source, Path], ...] = (
            ("shipped", self._shipped_dir),
            ("user", self._layout.models),
        )
        downloads = downloads_root(self._layout)
        for source, folder in folders:
            if folder.is_dir():
                for path in sorted(folder.rglob("*.gguf")):
                    if not is_projector(path) and not is_later_part(path):
                        found.append(
                            Candidate(unsplit_stem(path), _source(path, source, downloads), path)
                        )
        found += [Candidate(name, "imported", Path(p)) for name, p in self._imports().items()]
        return found

    def _discovered(self, local: list[Candidate]) -> list[Candidate]:
        """What discovery found, under names no other model answers to, each file once."""
        if self._discovery is None:
            return []
        taken = {c.name for c in local} | {_manifest_name(m) for m, _ in self._adapter_manifests()}
        # A file already listed is skipped, unless its app gives it another name (Ollama's tags
        # `llama3.2:latest` and `llama3.2:3b` share one blob, and both are used by name).
        holder: dict[Path, str] = {_resolved(c.path): c.source for c in local}
        names: set[tuple[Path, str]] = set()
        found = []
        for model in self._discovery.find():
            where = _resolved(model.path)
            if (
                holder.setdefault(where, model.origin) != model.origin
                or (where, model.name) in names
            ):
                continue
            names.add((where, model.name))
            name = _free_name(model, where, taken)
            taken.add(name)
            found.append(
                Candidate(name, model.origin, model.path, model.mmproj, True, model.problem)
            )
        return found

    def _candidates(self) -> list[Candidate]:
        local = self._local()
        return local + self._discovered(local)

    def list(self) -> list[ModelEntry]:
        """Every readable chat model; damaged files are skipped here, listed by `broken` and
        reported by `get`."""
        candidates = self._candidates()
        settings = self._settings.all()
        entries: dict[str, ModelEntry] = {}
        for candidate in candidates:
            if candidate.name in entries or candidate.problem is not None:
                continue
            try:
                info = self._model_info(candidate.path)
            except (InvalidGgufError, OSError):
                continue
            if info.general_type == "model":
                entries[candidate.name] = self._entry(candidate, info, settings)
        for manifest, source in self._adapter_manifests():
            try:
                entry = self._adapter_entry(manifest, source, candidates)
            except (InvalidGgufError, OSError, UnknownModelError, KeyError, ValueError):
                continue
            entries.setdefault(entry.name, entry)
        self._headers.save()
        return list(entries.values())

    @staticmethod
    def _entry(
        candidate: Candidate, info: GgufInfo, settings: dict[str, ModelSettings]
    ) -> ModelEntry:
        own = settings.get(candidate.name, ModelSettings())
        if candidate.source not in LOCAL_SOURCES:  # where the app keeps it, not a blob it links to
            info = replace(info, path=str(candidate.path))
        return ModelEntry(candidate.name, candidate.source, info, candidate.projector(), None, own)

    def broken(self) -> _BrokenModels:
        """The model files `list` leaves out because they cannot be read, each with the reason."""
        found = []
        for candidate in self._candidates():
            name, source, path = candidate.name, candidate.source, candidate.path
            if candidate.problem is not None:
                found.append(BrokenModel(name, source, path, candidate.problem))
                continue
            try:
                self._model_info(path)
            except (InvalidGgufError, OSError) as exc:
                found.append(BrokenModel(name, source, path, str(exc)))
        self._headers.save()
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

    def _adapter_entry(
        self, manifest: Path, source: Source, candidates: Sequence[Candidate]
    ) -> ModelEntry:
        """A base model with a LoRA adapter, named by the manifest; the base must be a model."""
        spec = json.loads(manifest.read_text(encoding="utf-8"))
        base = next((c for c in candidates if c.name == spec["base"]), None)
        if base is None:
            raise UnknownModelError(f"{manifest}: base model '{spec['base']}' is not installed")
        adapter = manifest.parent / spec["adapter"]
        if self._info(adapter).general_type != "adapter":
            raise InvalidGgufError(f"{adapter} is not a LoRA adapter GGUF")
        info = self._model_info(base.path)
        own = self._settings.get(spec["name"])
        return ModelEntry(spec["name"], source, info, base.projector(), adapter, own)

    def get(self, name: str) -> ModelEntry:
        """The model called `name`; Hearth's own are looked up before any folder is scanned."""
        try:
            return self._get(name)
        finally:
            self._headers.save()

    def _get(self, name: str) -> ModelEntry:
        local = self._local()
        for manifest, manifest_source in self._adapter_manifests():
            if _manifest_name(manifest) == name and not any(c.name == name for c in local):
                return self._adapter_entry(manifest, manifest_source, local)
        for candidate in _chain(local, lambda: self._discovered(local)):
            if candidate.name == name:
                if candidate.problem is not None:
                    raise InvalidGgufError(f"'{name}' cannot be used: {candidate.problem}")
                info = self._model_info(candidate.path)
                require_model(info)
                return self._entry(candidate, info, {name: self._settings.get(name)})
        known = ", ".join(e.name for e in self.list()) or "none"
        raise UnknownModelError(f"unknown model '{name}' (known models: {known})")

    def update_settings(self, name: str, changes: dict[str, Any]) -> ModelEntry:
        """Change `name`'s own load settings (None restores the global one); kept across
        restarts and applied at its next load."""
        self.get(name)
        self._settings.update(name, changes)
        return self.get(name)

    def _taken_names(self) -> set[str]:
        """Every name a model answers to, listed or not: files, imports and adapter manifests."""
        names = {candidate.name for candidate in self._candidates()}
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


def _source(path: Path, source: Source, downloads: Path) -> Source:
    """What `hearth models download` put in the models folder is a Hearth download."""
    return "downloaded" if downloads in path.parents else source


def _chain(first: list[Candidate], then: Callable[[], list[Candidate]]) -> Iterator[Candidate]:
    """`first`, then what `then` returns, computed only if `first` did not suffice."""
    yield from first
    yield from then()


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


def _free_name(model: FoundModel, where: Path, taken: set[str]) -> str:
    """The model's own name if free, else `name@origin`, else one made unique by its path:
    stable however the other folders change."""
    if model.name not in taken:
        return model.name
    tagged = f"{model.name}@{model.origin}"
    if tagged not in taken:
        return tagged
    return f"{tagged}-{hashlib.sha1(str(where).encode()).hexdigest()[:8]}"
