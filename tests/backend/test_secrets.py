"""Secrets at rest (#18): the remote LLM's API key goes to the OS keyring when one works, else to
a private file, never to settings.json or a log; an install that kept it in settings.json is
moved on start. Tests use no real keyring: the file, or an in-memory keyring set here."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from backend import secret_store
from backend.paths import HomeLayout
from backend.secret_store import SECRETS_FILE, SecretStore, usable_keyring
from backend.settings import Settings
from tests.backend.conftest import launch, prepare_home

KEY = "sk-hearth-test-0123456789abcdef"


class MemoryKeyring(KeyringBackend):
    """A keyring held in a dict, as an OS keyring would hold the entries."""

    priority = 0  # type: ignore[assignment]  # set by the tests, never found by keyring's chainer

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


class LockedKeyring(MemoryKeyring):
    """A keyring that is there but refuses to store anything (locked, or no permission)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("locked")


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    yield memory
    keyring.set_keyring(before)


def old_install(home: Path) -> HomeLayout:
    """A home whose settings.json holds the key in plain text, as every install did."""
    layout = HomeLayout(home).ensure()
    values = {"remote_llm_url": "http://127.0.0.1:9/v1", "remote_llm_api_key": KEY}
    layout.settings.write_text(json.dumps(values | {"context_size": 1024}))
    return layout


def test_without_a_keyring_the_key_moves_to_a_private_file(tmp_path: Path) -> None:
    layout = old_install(tmp_path / "home")
    assert usable_keyring() is None  # the tests' environment has none

    settings = Settings.load(layout)
    assert settings.remote_llm_api_key == KEY and settings.context_size == 1024
    assert KEY not in layout.settings.read_text()
    assert json.loads(layout.settings.read_text())["context_size"] == 1024  # the rest kept
    secrets = layout.root / SECRETS_FILE
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert json.loads(secrets.read_text()) == {"remote_llm_api_key": {"value": KEY}}
    assert Settings.load(layout).remote_llm_api_key == KEY  # and read back from there

    settings.model_copy(update={"remote_llm_api_key": None}).save(layout)  # cleared
    assert Settings.load(layout).remote_llm_api_key is None
    assert not secrets.exists()


def test_with_a_keyring_the_key_goes_there_and_nowhere_else(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    layout = old_install(tmp_path / "home")
    other = old_install(tmp_path / "other")
    Settings.load(other).model_copy(update={"remote_llm_api_key": "sk-other"}).save(other)

    assert Settings.load(layout).remote_llm_api_key == KEY
    assert KEY not in layout.settings.read_text()
    # The file says only where the key is.
    assert json.loads((layout.root / SECRETS_FILE).read_text()) == {
        "remote_llm_api_key": {"in_keyring": True}
    }
    assert sorted(memory_keyring.entries.values()) == sorted([KEY, "sk-other"])  # one per home
    assert Settings.load(other).remote_llm_api_key == "sk-other"
    assert all(service == "hearth" for service, _ in memory_keyring.entries)


def test_a_keyring_that_refuses_leaves_the_key_in_the_private_file(tmp_path: Path) -> None:
    layout = old_install(tmp_path / "home")
    store = SecretStore(layout, LockedKeyring())
    store.put("remote_llm_api_key", KEY)
    assert json.loads((layout.root / SECRETS_FILE).read_text()) == {
        "remote_llm_api_key": {"value": KEY}
    }
    assert store.get("remote_llm_api_key") == KEY


def test_no_usable_keyring_is_told_apart_from_a_real_one(memory_keyring: MemoryKeyring) -> None:
    assert usable_keyring() is memory_keyring
    for nothing in (fail.Keyring(), null.Keyring(), chainer.ChainerBackend()):
        keyring.set_keyring(nothing)
        if isinstance(nothing, chainer.ChainerBackend):
            assert not nothing.backends  # no Secret Service or KWallet here
        assert usable_keyring() is None


def test_a_home_without_secrets_never_opens_the_keyring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No unlock prompt at every start for the many users who never set a key."""

    def no_keyring() -> None:
        raise AssertionError("the keyring was opened")

    monkeypatch.setattr(secret_store, "usable_keyring", no_keyring)
    layout = HomeLayout(tmp_path / "home").ensure()
    Settings.load(layout).model_copy(update={"context_size": 1024}).save(layout)
    assert Settings.load(layout).context_size == 1024
    assert not (layout.root / SECRETS_FILE).exists()


def test_the_key_is_never_shown_in_settings_text(tmp_path: Path) -> None:
    settings = Settings.load(old_install(tmp_path / "home"))
    assert KEY not in repr(settings) and KEY not in str(settings)


def test_a_chat_through_the_remote_server_reads_the_moved_key_and_logs_none_of_it(
    tmp_path: Path, tiny_gguf: Path
) -> None:
    remote = launch(prepare_home(tmp_path / "remote", tiny_gguf))
    front = None
    try:
        key = remote.token  # the remote refuses any other: a chat proves the key was read
        home = prepare_home(
            tmp_path / "front",
            tiny_gguf,
            remote_llm_url=f"{remote.url}/v1",
            remote_llm_api_key=key,
        )
        front = launch(home)
        ask = {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3}
        with front.http() as http:
            assert http.post("/v1/chat/completions", json=ask).status_code == 200
            assert http.post("/v1/chat/completions", json=ask | {"model": "ghost"}).status_code
        Settings.load(home).save(home)  # a settings save, as the app's dialog makes
    finally:
        if front is not None:
            front.stop()
        remote.stop()
    assert key not in home.settings.read_text()
    assert json.loads((home.root / SECRETS_FILE).read_text()) == {
        "remote_llm_api_key": {"value": key}
    }
    logs = sorted(home.logs.iterdir())
    assert logs and not [log.name for log in logs if key in log.read_text(errors="replace")]
