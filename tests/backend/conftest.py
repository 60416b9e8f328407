"""Shared fixtures: a tiny random-weight GGUF, and the backend serving it: in this process, or
a real `hearth serve` process where the process is what a test is about."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any

import httpx
import numpy as np
import pytest

from backend.client import HearthClient, start_backend, stop_backend
from backend.discovery import BackendInfo, load_or_create_token
from backend.images.registry import clip_dir
from backend.paths import HomeLayout
from tests.inprocess_backend import ServedApp, serve_services
from training.testing import build_tiny_gguf


@dataclass(frozen=True)
class TinyClip:
    """A random tiny CLIP exported to the runtime format, and the torch model it came from."""

    folder: Path
    torch_model: Any

    @property
    def name(self) -> str:
        return self.folder.name

    def install(self, home: Path, *, as_default: bool = False) -> Path:
        """Copy it into HEARTH_HOME's image models, where `image_model=name` finds it; with
        `as_default`, settings.json names it the image model."""
        layout = HomeLayout(home).ensure()
        if as_default:
            layout.settings.write_text(json.dumps({"image_model": self.name}))
        return Path(shutil.copytree(self.folder, clip_dir(layout) / self.name))


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> TinyClip:
    """Built once per session: every test that needs a CLIP shares it."""
    from training.clip.testing import build_tiny_clip

    return TinyClip(*build_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip"))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gguf(tmp_path_factory.mktemp("models") / "tiny.gguf")


def prepare_home(root: Path, model: Path, **settings: object) -> HomeLayout:
    """A HEARTH_HOME holding `model` in its models folder and the given settings."""
    layout = HomeLayout(root).ensure()
    shutil.copy(model, layout.models / model.name)
    values = {
        "default_model": model.stem,
        "documents_model": model.stem,
        "context_size": 512,
        "threads": 2,
    } | settings
    layout.settings.write_text(json.dumps(values))
    return layout


class BackendHandle:
    """What a test talks to a serving backend with: its URL, token and clients."""

    layout: HomeLayout
    info: BackendInfo

    @property
    def url(self) -> str:
        return self.info.url

    @property
    def token(self) -> str:
        return load_or_create_token(self.layout)

    def client(self) -> HearthClient:
        return HearthClient(self.url, self.token)

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )

    def openai(self):  # type: ignore[no-untyped-def]
        import openai

        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.token, max_retries=0)


@dataclass
class RunningBackend(BackendHandle):
    """A real `hearth serve` child: for tests whose subject is the process itself."""

    layout: HomeLayout
    process: Popen[bytes]
    info: BackendInfo

    def stop(self) -> int:
        stop_backend(self.process)
        return self.process.returncode


@dataclass
class InProcessRealBackend(BackendHandle):
    """The real services (llama.cpp, images, documents) served in this process: for tests whose
    subject is the API and the engine, without a process's start-up and shutdown."""

    served: ServedApp

    @property
    def layout(self) -> HomeLayout:  # type: ignore[override]
        return self.served.layout

    @property
    def info(self) -> BackendInfo:  # type: ignore[override]
        return self.served.info

    def stop(self) -> None:
        self.served.stop()


def launch(layout: HomeLayout) -> RunningBackend:
    process, info = start_backend(layout)
    return RunningBackend(layout, process, info)


def serve_real(layout: HomeLayout) -> InProcessRealBackend:
    return InProcessRealBackend(serve_services(layout))


@pytest.fixture(scope="module")
def backend(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path
) -> Iterator[InProcessRealBackend]:
    """One real backend per test module, serving the tiny model in this process."""
    layout = prepare_home(tmp_path_factory.mktemp("home"), tiny_gguf)
    running = serve_real(layout)
    yield running
    running.stop()
