"""Hearth's secrets (the remote LLM's API key, a Hugging Face token): kept in the OS keyring when
one works, else in HEARTH_HOME/secrets.json, readable by the user alone (0600); never in
settings.json and never in a log line.

Each HEARTH_HOME has its own entries in the keyring (the account names the home), so two homes,
a test's among them, never share a secret.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Literal

from backend.errors import HearthError
from backend.paths import HomeLayout

if TYPE_CHECKING:  # keyring loads its backends on first use, not when Hearth starts
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

SecretName = Literal["remote_llm_api_key", "hf_token"]
KEYRING_SERVICE = "hearth"
SECRETS_FILE = "secrets.json"


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

    def __init__(self, layout: HomeLayout, keyring: KeyringBackend | None) -> None:
        self._layout = layout
        self._keyring = keyring
        self._file = layout.root / SECRETS_FILE

    @classmethod
    def open(cls, layout: HomeLayout) -> SecretStore:
        return cls(layout, usable_keyring())

    @property
    def location(self) -> str:
        """Where a secret put now goes, in words."""
        if self._keyring is not None:
            return f"the OS keyring ({self._keyring.name})"
        return str(self._file)

    def get(self, name: SecretName) -> str | None:
        """The secret, from the keyring or the file (an earlier run may have had no keyring)."""
        if self._keyring is not None:
            try:
                value = self._keyring.get_password(KEYRING_SERVICE, self._account(name))
            except Exception as exc:  # a locked or broken keyring: say so, then try the file
                log.warning("the OS keyring could not be read (%s)", type(exc).__name__)
            else:
                if value is not None:
                    return value
        return self._read_file().get(name)

    def put(self, name: SecretName, value: str | None) -> None:
        """Keep `value` (None: forget it) in the keyring, else in the private file."""
        if self._keyring is not None and self._put_in_keyring(name, value):
            self._write_file(name, None)  # a copy from a run without a keyring goes
            return
        self._write_file(name, value)

    def _account(self, name: SecretName) -> str:
        return f"{name}@{self._layout.root}"

    def _put_in_keyring(self, name: SecretName, value: str | None) -> bool:
        import keyring.errors

        assert self._keyring is not None
        account = self._account(name)
        try:
            if value is None:
                self._keyring.delete_password(KEYRING_SERVICE, account)
            else:
                self._keyring.set_password(KEYRING_SERVICE, account, value)
        except keyring.errors.PasswordDeleteError:
            return True  # there was none to forget
        except Exception as exc:  # a keyring that refuses: the private file still works
            log.warning("the OS keyring refused a secret (%s): kept in a file", type(exc).__name__)
            return False
        return True

    def _read_file(self) -> dict[str, str]:
        if not self._file.exists():
            return {}
        try:
            stored = json.loads(self._file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SecretsFileError(f"{self._file} is not valid JSON: {exc}") from exc
        if not isinstance(stored, dict) or not all(isinstance(v, str) for v in stored.values()):
            raise SecretsFileError(f"{self._file} should map secret names to text")
        return stored

    def _write_file(self, name: SecretName, value: str | None) -> None:
        from backend.settings import write_atomically  # settings load this module

        stored = self._read_file()
        if stored.get(name) == value:
            return
        if value is None:
            del stored[name]
        else:
            stored[name] = value
        if not stored:
            self._file.unlink(missing_ok=True)
            return
        self._layout.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(self._file, json.dumps(stored, indent=2), mode=0o600)
