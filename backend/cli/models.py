"""`hearth models`: list, inspect and import GGUF models, and set each one's own settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from backend.cli.output import fail, print_json

if TYPE_CHECKING:
    from backend.models.registry import ModelEntry, ModelRegistry
    from backend.wire import ModelDescription

GIB = 1024**3


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("models", help="list, inspect, import and configure models")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="every model Hearth can run")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=list_models)

    info = actions.add_parser("info", help="one model's metadata and memory needs")
    info.add_argument("name")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(handler=model_info)

    imported = actions.add_parser("import", help="use a GGUF file where it lies (not copied)")
    imported.add_argument("path", type=Path)
    imported.add_argument("--name", help="name to register it under (default: file name)")
    imported.add_argument("--json", action="store_true", help="machine-readable output")
    imported.set_defaults(handler=import_model)

    own = actions.add_parser("set", help="one model's own context, GPU layers and threads")
    own.add_argument("name")
    own.add_argument("--context", type=int, metavar="N", help="context window in tokens")
    own.add_argument(
        "--gpu-layers",
        type=int,
        metavar="N",
        help="layers to offload to the GPU, -1 for all (needs llama.cpp built for a GPU)",
    )
    own.add_argument("--threads", type=int, metavar="N", help="CPU threads")
    own.add_argument("--reset", action="store_true", help="use the global settings again")
    own.set_defaults(handler=set_model)

    clip = actions.add_parser(
        "import-clip", help="convert an open_clip checkpoint for images (needs the train extra)"
    )
    clip.add_argument("--arch", required=True, help="open_clip model name or config .json")
    clip.add_argument("--checkpoint", type=Path, required=True)
    clip.add_argument("--name", help="name to register it under (default: checkpoint name)")
    clip.set_defaults(handler=import_clip)

    from backend.cli import model_downloads

    model_downloads.register(actions)  # download, search, delete, catalog

    from backend.cli import clip_models

    clip_models.register(actions)  # add-clip, verify-clip: ONNX CLIP exports from the Hub


def _registry() -> ModelRegistry:
    from backend.models.discovery import ModelDiscovery
    from backend.models.registry import ModelRegistry
    from backend.paths import HomeLayout
    from backend.settings import Settings

    discovery = ModelDiscovery.from_settings(Settings.load())
    return ModelRegistry(HomeLayout.current(), discovery=discovery)


def _describe(entry: ModelEntry) -> ModelDescription:
    from backend.models.describe import describe_model
    from backend.models.memory import available_memory
    from backend.settings import Settings

    return describe_model(entry, Settings.load(), available_memory())


def _line(model: ModelDescription) -> str:
    fits = "fits" if model.memory.fits else "too large"
    return (
        f"{model.name:<28} {model.parameter_count / 1e6:8.1f}M  {model.quantization:<8}"
        f" {model.file_size / GIB:6.2f} GiB  ctx {model.context_length:<7} {fits:<9}"
        f" {model.source:<11} {model.path}"
    )


def list_models(args: argparse.Namespace) -> int:
    import sys

    registry = _registry()
    models = [_describe(e) for e in registry.list()]
    broken = [f"{b.name:<28} broken: {b.reason}" for b in registry.broken()]
    if args.json:
        print_json([model.model_dump(mode="json") for model in models])
        if broken:  # on stderr, so that stdout stays a list of usable models
            print("\n".join(f"hearth: {line}" for line in broken), file=sys.stderr)
    elif not models and not broken:
        print("No models yet. Import one with: hearth models import FILE.gguf")
    else:
        print("\n".join([_line(m) for m in models] + broken))
    return 0


def model_info(args: argparse.Namespace) -> int:
    model = _describe(_registry().get(args.name)).model_dump(mode="json")
    if args.json:
        print_json(model)
    else:
        for key, value in model.items():
            if key != "chat_template":
                print(f"{key:>16}: {value}")
    return 0


def import_model(args: argparse.Namespace) -> int:
    model = _describe(_registry().import_gguf(args.path, args.name))
    if args.json:
        print_json(model.model_dump(mode="json"))
    else:
        print(f"imported {model.name} -> {model.path}")
    return 0


def set_model(args: argparse.Namespace) -> int:
    """Change the flags given of one model's own settings, or show them when none is given."""
    from backend.wire import ModelSettings

    given = {"context_size": args.context, "gpu_layers": args.gpu_layers, "threads": args.threads}
    changes = {key: value for key, value in given.items() if value is not None}
    if args.reset:
        changes = dict.fromkeys(ModelSettings.model_fields) | changes
    registry = _registry()
    entry = registry.update_settings(args.name, changes) if changes else registry.get(args.name)
    own = entry.settings.model_dump(exclude_none=True)
    shown = ", ".join(f"{key} {value}" for key, value in own.items()) or "the global settings"
    print(f"{entry.name}: {shown} (context at load: {_describe(entry).memory.context})")
    return 0


TRAINING_EXTRA_NEEDED = (
    "converting an open_clip checkpoint needs the training extra, which this install lacks: "
    "pip install 'hearth-assistant[train]' and run this command from there"
)


def _training_command() -> list[str] | None:
    """How to start `python -m training.clip`, or None where nothing can run it: the app bundle
    (its executable is no Python, and it ships neither `training` nor torch) or an install
    without the train extra."""
    import importlib.util
    import sys

    if getattr(sys, "frozen", False):
        return None
    if any(importlib.util.find_spec(m) is None for m in ("training", "torch", "open_clip")):
        return None
    return [sys.executable, "-m", "training.clip"]


ZIP, NUMPY = b"PK\x03\x04", b"\x93NUMPY"
PICKLES = {bytes([0x80, protocol]) for protocol in range(2, 6)}  # pickle's PROTO opcode


def _format_problem(path: Path, head: bytes) -> str | None:
    """What `path`, starting with `head`, is not, for the reader open_clip's load_checkpoint
    picks by suffix: .npz/.npy go to np.load, .safetensors to safetensors (a little-endian
    8-byte header length, then a JSON header), anything else to torch.load (torch.save's zip
    archive, or its legacy format: a pickle, 0x80 and a protocol byte)."""
    if path.suffix in (".npz", ".npy"):
        return None if head.startswith((ZIP, NUMPY)) else "it is not a NumPy file"
    if str(path).endswith(".safetensors"):
        length = int.from_bytes(head[:8], "little")
        fits = 8 + length <= path.stat().st_size
        return None if head[8:9] == b"{" and fits else "it is not a safetensors file"
    if head.startswith(ZIP) or head[:2] in PICKLES:
        return None
    return "it is not a PyTorch checkpoint (torch.save writes a zip archive or a pickle)"


def checkpoint_problem(path: Path) -> str | None:
    """Why `path` cannot be a checkpoint, from its first bytes, or None: refusing a text file
    here spares the seconds the `training` subprocess spends importing torch first."""
    if not path.exists():
        return "it does not exist"
    if path.is_dir():
        return (
            "it is a folder, not a checkpoint file (a folder of ONNX files from the Hub, like "
            "Xenova/clip-vit-base-patch32's, is added with: hearth models add-clip FOLDER)"
        )
    if not path.is_file():
        return "it is not a regular file"
    with path.open("rb") as file:
        head = file.read(9)
    return "it is empty" if not head else _format_problem(path, head)


def import_clip(args: argparse.Namespace) -> int:
    """Convert in a `training` subprocess: the backend itself never imports torch."""
    import shutil
    import subprocess

    from backend.images.registry import clip_dir
    from backend.models.registry import check_model_name
    from backend.paths import HomeLayout

    name = args.checkpoint.stem if args.name is None else args.name
    check_model_name(name)  # it becomes a folder name: "" or "a/b" would land elsewhere

    training = _training_command()
    if training is None:
        return fail(TRAINING_EXTRA_NEEDED)
    problem = checkpoint_problem(args.checkpoint)
    if problem is not None:
        return fail(f"could not convert {args.checkpoint}: {problem}")
    out = clip_dir(HomeLayout.current().ensure()) / name
    if out.exists():
        return fail(f"an image model named '{name}' exists; pass another --name")
    partial = out.with_name(f".{name}.partial")  # renamed into place only when complete
    shutil.rmtree(partial, ignore_errors=True)
    command = [*training, "import-checkpoint", "--arch", args.arch]
    command += ["--checkpoint", str(args.checkpoint), "--out", str(partial), "--name", name]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        reason = result.stderr.strip().splitlines()[-1:] or ["conversion failed"]
        return fail(f"could not convert {args.checkpoint}: {reason[0].removeprefix('error: ')}")
    partial.rename(out)
    print(f"imported image model {name} -> {out}")
    return 0
