"""The installable project: the `hearth` command, settings, logging and a torch-free backend."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from backend import __version__
from backend.logs import configure_logging
from backend.paths import HomeLayout
from backend.paths import hearth_home as resolve_hearth_home
from backend.settings import SCHEMA_VERSION, Settings, SettingsError

HEARTH = str(Path(sys.executable).with_name("hearth"))


def test_help_lists_every_subcommand() -> None:
    result = subprocess.run([HEARTH, "--help"], capture_output=True, text=True, check=True)
    for command in ("serve", "chat", "docs", "images", "models"):
        assert f"    {command}" in result.stdout


def test_version_prints_the_package_version() -> None:
    result = subprocess.run([HEARTH, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"hearth {__version__}"


def test_server_modules_import_no_torch_and_no_heavy_runtime() -> None:
    code = (
        "import sys, backend.server.app, backend.server.main, backend.cli; "
        "print(sorted(m for m in ('torch', 'llama_cpp', 'chromadb', 'onnxruntime', 'PySide6') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_hearth_home_relocates_all_state(hearth_home: Path) -> None:
    assert resolve_hearth_home() == hearth_home.resolve()
    layout = HomeLayout.current().ensure()
    for path in (layout.settings, layout.database, layout.logs, layout.token):
        assert path.is_relative_to(hearth_home.resolve())


def test_settings_round_trip_with_schema_version() -> None:
    path = Settings(default_model="my-model", context_size=2048, theme="dark").save()
    stored = json.loads(path.read_text())
    assert stored["schema_version"] == SCHEMA_VERSION
    loaded = Settings.load()
    assert (loaded.default_model, loaded.context_size, loaded.theme) == ("my-model", 2048, "dark")


def test_missing_settings_file_gives_defaults() -> None:
    assert Settings.load() == Settings()


def test_invalid_settings_name_the_file() -> None:
    layout = HomeLayout.current().ensure()
    layout.settings.write_text('{"context_size": "huge"}')
    with pytest.raises(SettingsError, match="settings.json"):
        Settings.load()


def test_logs_go_to_hearth_home_logs() -> None:
    configure_logging("test-process")
    try:
        logging.getLogger("hearth.test").warning("a line for the log")
        for handler in logging.getLogger().handlers:
            handler.flush()
        log_file = HomeLayout.current().logs / "test-process.log"
        assert "a line for the log" in log_file.read_text()
    finally:
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "baseFilename", "").endswith("test-process.log"):
                logging.getLogger().removeHandler(handler)
                handler.close()
