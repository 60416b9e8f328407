"""`python -m training.clip import-checkpoint`: what `hearth models import-clip` runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.clip.import_checkpoint import UnsupportedClipError, import_checkpoint


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m training.clip")
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("import-checkpoint", help="open_clip checkpoint -> ONNX towers")
    convert.add_argument("--arch", required=True, help="open_clip model name or config .json")
    convert.add_argument("--checkpoint", type=Path, required=True)
    convert.add_argument("--out", type=Path, required=True, help="folder to write")
    convert.add_argument("--name", required=True)
    args = parser.parse_args()
    if not args.checkpoint.is_file():
        print(f"error: checkpoint {args.checkpoint} does not exist", file=sys.stderr)
        return 1
    try:
        folder = import_checkpoint(args.arch, args.checkpoint, args.out, args.name)
    except (UnsupportedClipError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
