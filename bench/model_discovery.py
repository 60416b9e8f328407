"""Discovery of other apps' models: time to list 500 GGUF files spread over LM Studio, Ollama,
GPT4All and Hugging Face cache folders, cold (no header cache) and warm, against a bare
`os.walk` + `stat` of the same folders in the same run. Targets: warm under 1 s, cold under 5 s.

Every file is a valid GGUF with a small tensor and a 4,096-token vocabulary (the header reader
walks it as it walks a real model's); each is a distinct copy, as other apps keep them. Each
timing is the best of `--rounds`: a cold round starts from an empty header cache, a warm one
from a new registry that reads the cache from disk, as a new `hearth` process does.

    .venv/bin/python bench/model_discovery.py [--files 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from backend.models.discovery import ModelDiscovery
from backend.models.registry import ModelRegistry
from backend.paths import HomeLayout


def write_gguf(path: Path) -> bytes:
    import gguf

    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("bench")
    writer.add_context_length(4096)
    writer.add_block_count(1)
    writer.add_embedding_length(64)
    writer.add_head_count(4)
    writer.add_token_list([f"token-{i}" for i in range(4096)])
    writer.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
    writer.add_tensor("token_embd.weight", np.zeros((16, 64), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


def populate(home: Path, data: bytes, files: int) -> list[Path]:
    """`files` models, a quarter per app, each app laid out as it lays them out."""
    quarter = files // 4
    for i in range(quarter + files % 4):  # LM Studio: publisher/repo/quant.gguf
        folder = home / ".lmstudio" / "models" / f"pub{i % 10}" / f"repo{i // 5}-GGUF"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"model{i}-Q{i % 5}.gguf").write_bytes(data)
    gpt4all = home / ".local" / "share" / "nomic.ai" / "GPT4All"
    gpt4all.mkdir(parents=True)
    for i in range(quarter):
        (gpt4all / f"gpt4all-{i}.gguf").write_bytes(data)
    ollama = home / ".ollama" / "models"
    (ollama / "blobs").mkdir(parents=True)
    for i in range(quarter):  # distinct blobs: one byte of padding makes another digest
        blob = data + bytes(i % 32) + i.to_bytes(4, "little")
        digest = hashlib.sha256(blob).hexdigest()
        (ollama / "blobs" / f"sha256-{digest}").write_bytes(blob)
        manifest = ollama / "manifests" / "registry.ollama.ai" / "library" / f"m{i}" / "latest"
        manifest.parent.mkdir(parents=True)
        layer = {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}"}
        manifest.write_text(json.dumps({"layers": [layer]}))
    for i in range(quarter):  # the Hub's cache: blobs, and a snapshot linking to them
        repo = home / ".cache" / "huggingface" / "hub" / f"models--org--repo{i}-GGUF"
        snapshot = repo / "snapshots" / ("0" * 40)
        snapshot.mkdir(parents=True)
        (repo / "blobs").mkdir()
        (repo / "blobs" / "b").write_bytes(data)
        (snapshot / f"hf{i}-Q4_K_M.gguf").symlink_to(Path("..", "..", "blobs", "b"))
    return [home / ".lmstudio", gpt4all, ollama, home / ".cache" / "huggingface" / "hub"]


def bare_walk(roots: list[Path]) -> int:
    """What any discovery must do: visit every folder and stat every file."""
    count = 0
    for root in roots:
        for folder, _dirs, names in os.walk(root):
            for name in names:
                os.stat(os.path.join(folder, name))
                count += 1
    return count


def best(rounds: int, before: Callable[[], object], timed: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        before()
        started = time.perf_counter()
        timed()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        os.environ["HOME"] = str(home)
        for variable in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_CACHE"):
            os.environ.pop(variable, None)
        roots = populate(home, write_gguf(Path(tmp) / "one.gguf"), args.files)
        layout = HomeLayout(Path(tmp) / "hearth").ensure()
        cache = layout.models / "header_cache.json"

        def registry() -> ModelRegistry:
            return ModelRegistry(layout, Path(tmp) / "none", ModelDiscovery())

        listed = len(registry().list())
        assert listed == args.files, f"listed {listed} of {args.files} models"
        baseline = best(args.rounds, lambda: None, lambda: bare_walk(roots))
        cold = best(args.rounds, lambda: cache.unlink(missing_ok=True), lambda: registry().list())
        warm = best(args.rounds, lambda: None, lambda: registry().list())
        print(f"{listed} models in {sum(1 for _ in home.rglob('*'))} paths")
        print(f"bare os.walk + stat: {baseline * 1000:8.1f} ms")
        print(f"cold registry list:  {cold * 1000:8.1f} ms  ({cold / baseline:6.1f}x the walk)")
        print(f"warm registry list:  {warm * 1000:8.1f} ms  ({warm / baseline:6.1f}x the walk)")


if __name__ == "__main__":
    main()
