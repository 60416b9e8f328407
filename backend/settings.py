"""The one typed settings model, stored as HEARTH_HOME/settings.json."""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from backend.chat.queue import DEFAULT_QUEUE_DEPTH
from backend.errors import HearthError
from backend.paths import HomeLayout
from backend.secret_store import SecretName, SecretStore

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# Settings that are secrets: kept by `SecretStore`, never written to settings.json.
SECRET_FIELDS: tuple[SecretName, ...] = ("remote_llm_api_key", "hf_token")
DEFAULT_PORT = 8765
MB = 1024 * 1024
ORIGIN = re.compile(r"https?://[^/?#\s]+")  # what a browser sends in its Origin header


class SettingsError(HearthError):
    """settings.json exists but cannot be read as Hearth settings."""

    code = "invalid_settings"


class Settings(BaseModel):
    """Everything a user can configure. Each field's description is shown in the GUI."""

    schema_version: int = Field(SCHEMA_VERSION, description="Version of this settings schema.")
    default_model: str = Field(
        "smollm2-135m-instruct", description="Chat model used when none is chosen."
    )
    documents_model: str = Field(
        "hearth-smol",
        description="Chat model for chats with documents, when it is installed.",
    )
    image_model: str = Field(
        "hearth-clip-tiny", description="CLIP model for image labels and image search."
    )
    context_size: int = Field(4096, ge=256, le=1 << 20, description="Context window in tokens.")
    max_reply_tokens: int = Field(
        1024,
        ge=0,
        description=(
            "Longest reply in Hearth's chats, in tokens, at most half the context; a chat's own "
            "setting overrides it. 0: no limit."
        ),
    )
    # llama.cpp's long-standing default, over its last 64 tokens: enough to steer a small
    # model out of a loop, too little to keep it from repeating a name or a code identifier.
    repeat_penalty: float = Field(
        1.1, gt=0.0, le=10.0, description="Repetition penalty in Hearth's chats; 1 is none."
    )
    # Small, as it grows with every use over the whole reply: a long answer must still be
    # able to say "the" and repeat its key words.
    frequency_penalty: float = Field(
        0.1, ge=-2.0, le=2.0, description="Frequency penalty in Hearth's chats; 0 is none."
    )
    threads: int = Field(
        default_factory=lambda: max(1, os.cpu_count() or 1),
        ge=1,
        description="CPU threads llama.cpp uses.",
    )
    theme: Literal["system", "light", "dark"] = Field("system", description="GUI colour theme.")
    chroma_url: str | None = Field(
        None, description="Use this Chroma server instead of the embedded store."
    )
    fast_indexing: bool = Field(
        False,
        description=(
            "Embed only the first 126 word pieces of each document chunk (of up to 180): "
            "faster indexing, slightly lower search quality (bench/README.md has the figures). "
            "Applies to chunks embedded after the change; re-index to apply it to all."
        ),
    )
    remote_llm_url: str | None = Field(
        None, description="Send chat to this OpenAI-compatible server instead of llama.cpp."
    )
    remote_llm_api_key: str | None = Field(
        None,
        repr=False,  # a secret: kept in the OS keyring (or a private file), never printed
        description="Bearer token for the remote LLM; kept in the OS keyring (or a private "
        "file where there is none), never in settings.json.",
    )
    hf_token: str | None = Field(
        None,
        repr=False,  # a secret, like the remote LLM's key
        description="Hugging Face access token, for gated or private model repos (HF_TOKEN in "
        "the environment wins); kept in the OS keyring (or a private file), never in "
        "settings.json, and sent only to the Hub.",
    )
    generation_queue_depth: int = Field(
        DEFAULT_QUEUE_DEPTH,
        ge=0,
        description=(
            "Replies that may wait while the model is busy; one more is refused at once (HTTP "
            "429 with Retry-After) rather than left waiting without a sign."
        ),
    )
    discover_models: bool = Field(
        True,
        description=(
            "List the GGUF models LM Studio, Ollama, GPT4All, Jan, llama.cpp and the Hugging "
            "Face cache downloaded, used where they lie and never changed."
        ),
    )
    model_folders: list[str] = Field(
        default_factory=list,
        description="More folders whose GGUF models Hearth lists, used where they lie.",
    )
    port: int = Field(
        DEFAULT_PORT,
        ge=0,
        le=65535,
        description=(
            "Port the API listens on at 127.0.0.1, so tools keep one base URL; when another "
            "program holds it, Hearth takes a free one and says so. 0: a free one each time."
        ),
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Web pages from these origins (exactly, like https://app.example:8443) may call the "
            "API from a browser, with the token; pages from localhost may anyway."
        ),
    )
    # Limits on what one file may cost to read: each error names its setting.
    max_document_uncompressed_bytes: int = Field(
        200 * MB,
        ge=MB,
        description=(
            "Most bytes a DOCX (a zip archive) may inflate to; a larger one is skipped as a "
            "possible zip bomb."
        ),
    )
    max_document_text_chars: int = Field(
        20_000_000, ge=1, description="Most characters of text one document may hold."
    )
    max_document_pages: int = Field(5_000, ge=1, description="Most pages a PDF may have.")
    max_image_bytes: int = Field(
        256 * MB,
        ge=MB,
        description="Largest image file Hearth reads; a larger one is refused before reading.",
    )

    @field_validator("allowed_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if not ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: give scheme, host and port only, "
                    "like https://app.example:8443, without a path or a trailing /"
                )
        return origins

    @classmethod
    def load(cls, layout: HomeLayout | None = None) -> Settings:
        """settings.json, with the secrets from the secret store. A secret still in the file
        (written before secrets had a store, or by hand) is moved to the store."""
        layout = layout or HomeLayout.current()
        path = layout.settings
        try:
            stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
            settings = cls.model_validate(stored)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{path} is not valid Hearth settings: {exc}") from exc
        except ValidationError as exc:
            raise SettingsError(f"{path} is not valid Hearth settings: {_problems(exc)}") from exc
        secrets = SecretStore.open(layout)
        if any(name in stored for name in SECRET_FIELDS):
            _move_secrets(path, stored, secrets)
        return settings.model_copy(update={name: secrets.get(name) for name in SECRET_FIELDS})

    def save(self, layout: HomeLayout | None = None) -> Path:
        """settings.json without the secrets, which go to the secret store."""
        layout = layout or HomeLayout.current()
        path = layout.settings
        path.parent.mkdir(parents=True, exist_ok=True)
        secrets = SecretStore.open(layout)
        for name in SECRET_FIELDS:
            secrets.put(name, getattr(self, name))
        write_atomically(path, self.model_dump_json(indent=2, exclude=set[str](SECRET_FIELDS)))
        return path


def _move_secrets(path: Path, stored: dict[str, object], secrets: SecretStore) -> None:
    """Put the secrets settings.json holds in the store, then rewrite the file without them."""
    for name in SECRET_FIELDS:
        if name in stored:
            value = stored.pop(name)
            secrets.put(name, value if isinstance(value, str) else None)
    write_atomically(path, json.dumps(stored, indent=2))
    log.info("moved the secrets in %s to %s", path, secrets.location)


def _problems(error: ValidationError) -> str:
    """Pydantic's report on one line: `field: what is wrong` for each problem."""
    return "; ".join(
        f"{'.'.join(map(str, problem['loc'])) or 'settings'}: {problem['msg']}"
        for problem in error.errors()
    )


def write_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    """Write through a temporary file and rename, so a crash never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
