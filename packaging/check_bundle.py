"""Fails the build if the bundle holds a package that could download a model or needs torch."""

import sys

from PyInstaller.archive.readers import ZlibArchiveReader

FORBIDDEN = ("torch", "transformers", "open_clip", "huggingface_hub", "peft", "training")

modules = ZlibArchiveReader(sys.argv[1]).toc.keys()
found = sorted({name.split(".")[0] for name in modules if name.split(".")[0] in FORBIDDEN})
if found:
    sys.exit(f"the bundle must not contain: {', '.join(found)}")
print(f"bundle checked: {len(modules)} modules, none of {', '.join(FORBIDDEN)}")
