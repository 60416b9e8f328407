"""The base chat model that set-up installs from PyPI: checked, listed and really answering."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from backend.models.registry import ModelRegistry, packaged_models
from backend.paths import HomeLayout, repo_models_dir
from backend.settings import Settings
from tests.backend.conftest import launch


def test_every_packaged_model_is_installed_with_its_sha256() -> None:
    listing = json.loads((repo_models_dir() / "packaged.json").read_text())
    installed = dict(packaged_models(repo_models_dir()))
    for model in listing:
        path = installed[model["name"]]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == model["sha256"]


def test_the_default_model_is_shipped() -> None:
    registry = ModelRegistry(HomeLayout.current().ensure())
    entry = registry.get(Settings().default_model)
    assert entry.source == "shipped" and entry.info.quantization == "Q4_1"


def test_the_default_model_answers_a_question(hearth_home: Path) -> None:
    backend = launch(HomeLayout(hearth_home).ensure())
    try:
        reply = backend.openai().chat.completions.create(
            model=Settings().default_model,
            messages=[{"role": "user", "content": "Which city is the capital of France?"}],
            max_tokens=48,
            temperature=0,
        )
        assert "Paris" in (reply.choices[0].message.content or "")
    finally:
        backend.stop()
