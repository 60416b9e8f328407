"""How the Models dialog words a model, a catalog entry and a download (plain text, no Qt)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop.chat.model_picker import human_size

if TYPE_CHECKING:
    from backend.wire import CatalogEntry, DownloadStatus, ModelDescription

ORIGINS = {
    "shipped": "Shipped with Hearth",
    "user": "Hearth's models folder",
    "imported": "Imported",
    "downloaded": "Downloaded by Hearth",
    "folder": "A model folder in Settings",
    "lmstudio": "LM Studio",
    "ollama": "Ollama",
    "gpt4all": "GPT4All",
    "jan": "Jan",
    "huggingface": "Hugging Face cache",
    "llama.cpp": "llama.cpp cache",
}
OTHER_APPS = frozenset({"lmstudio", "ollama", "gpt4all", "jan", "huggingface", "llama.cpp"})
UNFINISHED = ("queued", "downloading", "verifying")


def origin(model: ModelDescription) -> str:
    where = ORIGINS.get(model.source, model.source)
    return f"{where} ({model.repo})" if model.repo else where


def from_other_app(model: ModelDescription) -> bool:
    return model.source in OTHER_APPS


def why_not_deletable(model: ModelDescription) -> str | None:
    """None when Hearth may delete the model's files: only those it downloaded itself."""
    if model.source == "downloaded":
        return None
    if from_other_app(model):
        return f"{ORIGINS[model.source]} owns this file: Hearth never deletes another app's models."
    return "Hearth deletes only the models it downloaded; remove this file yourself."


def why_not_default_model(model: ModelDescription, default_name: str) -> str | None:
    """None when the model can become the default."""
    if model.name == default_name:
        return "Already the default"
    if not model.memory.fits:
        return "Too large for the memory free now"
    return None


def memory_fit(model: ModelDescription) -> str:
    memory = model.memory
    needs, has = human_size(memory.total_bytes), human_size(memory.available_bytes)
    verdict = "fits" if memory.fits else "too big"
    return f"{verdict}: needs {needs}, has {has}"


def catalog_fit(entry: CatalogEntry, separator: str = ": ") -> str:
    """Like "tight: needs 5.5 GB, has 6.1 GB"."""
    fit = entry.fit
    needs, has = human_size(fit.min_ram_bytes), human_size(fit.available_bytes)
    return f"{fit.badge}{separator}needs {needs}, has {has}"


def catalog_size(entry: CatalogEntry) -> str:
    model = entry.model
    return human_size(model.size_bytes + model.mmproj_size_bytes)


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def download_line(status: DownloadStatus) -> str:
    """Like "Qwen/Qwen3-1.7B-GGUF: 120 MB of 1.1 GB · 8.2 MB/s · 2 min left"."""
    done, total = human_size(status.bytes_done), human_size(status.bytes_total)
    parts = [f"{status.repo}: {done} of {total}"]
    if status.state == "downloading" and status.rate > 0:
        parts.append(f"{human_size(int(status.rate))}/s")
        if status.eta_seconds is not None:
            parts.append(f"{duration(status.eta_seconds)} left")
    elif status.state != "downloading":
        parts.append(STATE_WORDS.get(status.state, status.state))
    return " · ".join(parts)


STATE_WORDS = {
    "queued": "waiting for the download before it",
    "verifying": "checking the sha256",
    "finished": "installed",
    "failed": "failed",
    "cancelled": "paused: what was fetched is kept",
}


def percent(status: DownloadStatus) -> int:
    if status.state == "finished":
        return 100
    return int(100 * status.bytes_done / status.bytes_total) if status.bytes_total else 0
