"""A home folder where LM Studio, Ollama, GPT4All and the Hugging Face cache each downloaded a
model, laid out as those apps lay them out, for the discovery tests."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

# Variables that would move the apps' folders away from the test's home folder.
APP_VARIABLES = (
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "HF_HOME",
    "HF_HUB_CACHE",
    "LLAMA_CACHE",
    "OLLAMA_MODELS",
)
OLLAMA_MODEL = "application/vnd.ollama.image.model"
OLLAMA_PROJECTOR = "application/vnd.ollama.image.projector"


@dataclass(frozen=True)
class OtherApps:
    home: Path

    @property
    def lmstudio(self) -> Path:
        return self.home / ".lmstudio" / "models"

    @property
    def ollama(self) -> Path:
        return self.home / ".ollama" / "models"

    @property
    def gpt4all(self) -> Path:
        return self.home / ".local" / "share" / "nomic.ai" / "GPT4All"

    @property
    def hf_hub(self) -> Path:
        return self.home / ".cache" / "huggingface" / "hub"

    def ollama_blob(self, source: Path) -> str:
        """Store `source` as Ollama does, by its sha256; returns the digest."""
        digest = "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()
        blobs = self.ollama / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, blobs / digest.replace(":", "-"))
        return digest

    def ollama_manifest(
        self, name: str, tag: str, layers: dict[str, str], ns: str = "library"
    ) -> Path:
        manifest = self.ollama / "manifests" / "registry.ollama.ai" / ns / name / tag
        manifest.parent.mkdir(parents=True, exist_ok=True)
        entries = [
            {"mediaType": kind, "digest": digest, "size": 1} for kind, digest in layers.items()
        ]
        manifest.write_text(json.dumps({"schemaVersion": 2, "layers": entries}))
        return manifest

    def hf_snapshot(self, repo: str, files: dict[str, Path], revision: str = "a" * 40) -> Path:
        """A Hub cache snapshot: blobs by hash, the snapshot's files linking to them."""
        folder = self.hf_hub / f"models--{repo.replace('/', '--')}"
        snapshot = folder / "snapshots" / revision
        snapshot.mkdir(parents=True, exist_ok=True)
        (folder / "blobs").mkdir(exist_ok=True)
        (folder / "refs").mkdir(exist_ok=True)
        (folder / "refs" / "main").write_text(revision)
        for name, source in files.items():
            blob = folder / "blobs" / hashlib.sha256(source.read_bytes()).hexdigest()
            shutil.copy(source, blob)
            (snapshot / name).symlink_to(Path("..", "..", "blobs", blob.name))
        return snapshot


def other_apps_home(root: Path, monkeypatch: pytest.MonkeyPatch) -> OtherApps:
    """HOME at `root`, with nothing moving the apps' folders elsewhere."""
    root.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(root))
    for variable in APP_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return OtherApps(root)


def fill(apps: OtherApps, model: Path) -> dict[str, str]:
    """One model in each app's folder; returns the names they are listed under, by origin."""
    lms = apps.lmstudio / "lmstudio-community" / "Tiny-GGUF"
    lms.mkdir(parents=True)
    shutil.copy(model, lms / "tiny-lms-Q8_0.gguf")
    apps.ollama_manifest("tinyllama", "latest", {OLLAMA_MODEL: apps.ollama_blob(model)})
    apps.gpt4all.mkdir(parents=True)
    shutil.copy(model, apps.gpt4all / "tiny-gpt4all.gguf")
    apps.hf_snapshot("org/Tiny-GGUF", {"tiny-hf-Q8_0.gguf": model})
    return {
        "lmstudio": "tiny-lms-Q8_0",
        "ollama": "tinyllama:latest",
        "gpt4all": "tiny-gpt4all",
        "huggingface": "tiny-hf-Q8_0",
    }
