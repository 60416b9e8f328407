"""Ollama's model store: JSON manifests per name and tag that point at content-addressed blobs.

`manifests/<registry>/<namespace>/<name>/<tag>` lists layers by media type; the model layer's
digest `sha256:<hex>` names the GGUF blob `blobs/sha256-<hex>`, and a projector layer names
the vision projector. Names are shown as Ollama shows them: `name:tag` for its own library,
with the namespace (and the registry, for another one) in front otherwise, joined by `-`
because a Hearth model name cannot hold `/`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

OLLAMA_REGISTRY, OLLAMA_LIBRARY = "registry.ollama.ai", "library"
MODEL_LAYER = "application/vnd.ollama.image.model"
PROJECTOR_LAYER = "application/vnd.ollama.image.projector"
DIGEST = re.compile(r"sha256[:-]([0-9a-f]{64})")


@dataclass(frozen=True)
class OllamaModel:
    name: str
    manifest: Path
    model: Path | None  # None when the manifest is unusable; `problem` says why
    projector: Path | None = None
    problem: str | None = None


def ollama_models(root: Path) -> list[OllamaModel]:
    """Every manifest below `root`/manifests; unreadable folders are skipped."""
    manifests = root / "manifests"
    found = []
    for folder, _dirs, files in os.walk(manifests):
        for tag in sorted(files):
            manifest = Path(folder, tag)
            parts = manifest.relative_to(manifests).parts
            if len(parts) >= 3 and not tag.startswith("."):
                found.append(_model(root, manifest, parts))
    return sorted(found, key=lambda m: m.name)


def display_name(parts: tuple[str, ...]) -> str:
    """`registry.ollama.ai/library/llama3.2/1b` -> `llama3.2:1b`, as `ollama list` shows it."""
    *place, name, tag = parts
    if place[:1] == [OLLAMA_REGISTRY]:
        place = place[1:]
    if place == [OLLAMA_LIBRARY]:
        place = []
    return "-".join([*place, name]) + f":{tag}"


def _model(root: Path, manifest: Path, parts: tuple[str, ...]) -> OllamaModel:
    name = display_name(parts)
    try:
        layers = json.loads(manifest.read_bytes())["layers"]
        digests = {layer["mediaType"]: layer["digest"] for layer in layers}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problem = f"its Ollama manifest {manifest} cannot be read: {exc}"
        return OllamaModel(name, manifest, None, problem=problem)
    if MODEL_LAYER not in digests:
        return OllamaModel(name, manifest, None, problem="its Ollama manifest has no model layer")
    model = _blob(root, digests[MODEL_LAYER])
    projector = _blob(root, digests[PROJECTOR_LAYER]) if PROJECTOR_LAYER in digests else None
    if model is None:
        problem = f"its Ollama manifest names no valid blob: {digests[MODEL_LAYER]!r}"
        return OllamaModel(name, manifest, None, problem=problem)
    return OllamaModel(name, manifest, model, projector)


def _blob(root: Path, digest: object) -> Path | None:
    """The blob a digest names; only a sha256 in hex, so a manifest cannot point elsewhere."""
    match = DIGEST.fullmatch(digest) if isinstance(digest, str) else None
    return root / "blobs" / f"sha256-{match.group(1)}" if match else None
