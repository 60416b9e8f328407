"""Where other local-AI apps keep the GGUF models they downloaded, per platform: a table.

Each row names the app (the origin the registry shows), how its folder is laid out, the folders
per platform (`*` for every platform; a platform's own entry replaces it) and the environment
variables that move it. A variable that is set replaces the row's folders, as it does for the
app. Placeholders: {home} the user's home; {data} the platform's user data folder
(~/.local/share, ~/Library/Application Support, %LOCALAPPDATA%); {roaming} the same, but
%APPDATA% on Windows; {cache} the platform's cache folder (~/.cache, ~/Library/Caches,
%LOCALAPPDATA%); {dotcache} $XDG_CACHE_HOME or ~/.cache on every platform, as Hugging Face uses.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from backend.wire import ModelSource

# tree: every *.gguf below the folder; ollama: manifests naming blobs; hf_hub: the Hub's cache
Layout = Literal["tree", "ollama", "hf_hub"]


@dataclass(frozen=True)
class AppFolders:
    origin: ModelSource
    layout: Layout
    paths: dict[str, tuple[str, ...]]
    env: tuple[tuple[str, str], ...] = field(default=())  # (variable, folder below its value)


APP_FOLDERS: tuple[AppFolders, ...] = (
    AppFolders(
        "lmstudio", "tree", {"*": ("{home}/.lmstudio/models", "{home}/.cache/lm-studio/models")}
    ),
    AppFolders(
        "ollama",
        "ollama",
        {
            "*": ("{home}/.ollama/models",),
            # the Linux installer runs Ollama as a service user with its own home
            "linux": ("{home}/.ollama/models", "/usr/share/ollama/.ollama/models"),
        },
        env=(("OLLAMA_MODELS", ""),),
    ),
    AppFolders("gpt4all", "tree", {"*": ("{data}/nomic.ai/GPT4All",)}),
    AppFolders(
        "jan",
        "tree",
        {
            "*": (
                "{roaming}/Jan/data/llamacpp/models",
                "{roaming}/Jan/data/models",
                "{home}/jan/models",  # Jan before 0.6 kept its data folder here
            )
        },
    ),
    AppFolders(
        "huggingface",
        "hf_hub",
        {"*": ("{dotcache}/huggingface/hub",)},
        env=(("HF_HUB_CACHE", ""), ("HF_HOME", "hub")),
    ),
    AppFolders("llama.cpp", "tree", {"*": ("{cache}/llama.cpp",)}, env=(("LLAMA_CACHE", ""),)),
)


def _placeholders() -> dict[str, str]:
    from platformdirs import user_cache_dir, user_data_dir

    home = Path.home()
    return {
        "home": str(home),
        "data": user_data_dir(),
        "roaming": user_data_dir(roaming=True),
        "cache": user_cache_dir(),
        "dotcache": os.environ.get("XDG_CACHE_HOME") or str(home / ".cache"),
    }


def folders_of(app: AppFolders, platform: str = sys.platform) -> list[Path]:
    """The folders `app` keeps models in on this machine, whether or not they exist."""
    for variable, below in app.env:
        value = os.environ.get(variable)
        if value:
            return [Path(value).expanduser() / below]
    places = _placeholders()
    templates = app.paths.get(platform, app.paths["*"])
    return [Path(template.format(**places)) for template in templates]
