"""Hearth's secrets (the remote LLM's API key, a Hugging Face token): kept in the OS keyring when
one works, else in HEARTH_HOME/secrets.json, readable by the user alone (0600); never in
settings.json and never in a log line.

secrets.json also says which secrets are in the keyring (never their values), so a home with
none never opens the keyring: no unlock prompt, and no keyring import, for users without one.
Each HEARTH_HOME has its own keyring entries (the account names the home), so two homes, a
test's among them, never share a secret.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from backend.errors import HearthError
from backend.paths import HomeLayout

if TYPE_CHECKING:  # keyring loads its backends on first use, not when Hearth starts
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

SecretName = Literal["remote_llm_api_key", "hf_token"]
KEYRING_SERVICE = "hearth"
SECRETS_FILE = "secrets.json"


class Unset:
    """The keyring not looked for yet."""


UNSET = Unset()


class SecretEntry(BaseModel):
    """One secret in secrets.json: that the keyring holds it, or else its value."""

    in_keyring: bool = Field(False, description="The OS keyring holds the value.")
    value: str | None = Field(None, description="The secret, where no keyring keeps it.")


_ENTRIES: TypeAdapter[dict[str, SecretEntry]] = TypeAdapter(dict[str, SecretEntry])


class SecretsFileError(HearthError):
    """HEARTH_HOME/secrets.json exists but does not hold Hearth's secrets."""

    code = "invalid_secrets_file"


def usable_keyring() -> KeyringBackend | None:
    """The OS keyring, or None where there is none: keyring's `fail` or `null` backend, or a
    chainer with no backend to chain (a Linux session without Secret Service or KWallet)."""
    import keyring
    from keyring.backends import chainer, fail, null

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


class SecretStore:
    """Get and put secrets by name; `put(name, None)` forgets one."""

    def __init__(self, layout: HomeLayout, keyring: KeyringBackend | None | Unset = UNSET) -> None:
        self._layout = layout
        self._keyring = keyring  # found on first use unless given
        self._file = layout.root / SECRETS_FILE

    @classmethod
    def open(cls, layout: HomeLayout) -> SecretStore:
        return cls(layout)

    @property
    def location(self) -> str:
        """Where a secret put now goes, in words."""
        keyring = self._usable_keyring()
        return f"the OS keyring ({keyring.name})" if keyring else str(self._file)

    def get(self, name: SecretName) -> str | None:
        entry = self._read_file().get(name)
        if entry is None or not entry.in_keyring:
            return entry.value if entry else None
        keyring = self._usable_keyring()
        try:
            return keyring.get_password(KEYRING_SERVICE, self._account(name)) if keyring else None
        except Exception as exc:  # a locked or broken keyring: say so, without the secret
            log.warning("the OS keyring could not be read (%s)", type(exc).__name__)
            return None

    def put(self, name: SecretName, value: str | None) -> None:
        """Keep `value` (None: forget it) in the keyring, else in the private file."""
        before = self._read_file()
        entries = dict(before)
        known = entries.pop(name, None)
        if value is None:
            if known is not None and known.in_keyring:
                self._forget_in_keyring(name)
        elif self._put_in_keyring(name, value):
            entries[name] = SecretEntry(in_keyring=True)
        else:
            entries[name] = SecretEntry(value=value)
        if entries != before:
            self._write_file(entries)

    def _account(self, name: SecretName) -> str:
        return f"{name}@{self._layout.root}"

    def _usable_keyring(self) -> KeyringBackend | None:
        if isinstance(self._keyring, Unset):
            self._keyring = usable_keyring()
        return self._keyring

    def _put_in_keyring(self, name: SecretName, value: str) -> bool:
        keyring = self._usable_keyring()
        if keyring is None:
            return False
        try:
            keyring.set_password(KEYRING_SERVICE, self._account(name), value)
        except Exception as exc:  # a keyring that refuses: the private file still works
            log.warning("the OS keyring refused a secret (%s): kept in a file", type(exc).__name__)
            return False
        return True

    def _forget_in_keyring(self, name: SecretName) -> None:
        keyring = self._usable_keyring()
        try:
            if keyring is not None:
                keyring.delete_password(KEYRING_SERVICE, self._account(name))
        except Exception as exc:  # gone already, or a keyring that refuses: nothing to keep
            log.warning("the OS keyring did not delete a secret (%s)", type(exc).__name__)

    def _read_file(self) -> dict[str, SecretEntry]:
        if not self._file.exists():
            return {}
        try:
            return _ENTRIES.validate_json(self._file.read_bytes())
        except ValidationError as exc:
            raise SecretsFileError(f"{self._file} does not hold Hearth's secrets: {exc}") from exc

    def _write_file(self, entries: dict[str, SecretEntry]) -> None:
        from backend.settings import write_atomically  # settings load this module

        if not entries:
            self._file.unlink(missing_ok=True)
            return
        self._layout.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        text = _ENTRIES.dump_json(entries, indent=2, exclude_defaults=True).decode()
        write_atomically(self._file, text, mode=0o600)
