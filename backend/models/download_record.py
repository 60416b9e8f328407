"""Where downloaded models live, and the record beside them saying which repo they came from.

`HEARTH_HOME/models/downloaded/<owner>--<name>/<model>/` holds one model (its shards too) and
its vision projector, so the registry pairs them, and a `download.json` naming the repo: the
app may delete such a folder, because Hearth wrote every file in it.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from pydantic import BaseModel, Field

from backend.errors import InvalidRequestError
from backend.models.split import unsplit_stem
from backend.paths import HomeLayout
from backend.settings import write_atomically

DOWNLOADS_FOLDER = "downloaded"  # under the models folder
RECORD = "download.json"


class DownloadedFile(BaseModel):
    name: str = Field(description="Its path in the repo.")
    size: int
    sha256: str | None = Field(None, description="The sha256 the Hub reported and it matched.")


class DownloadRecord(BaseModel):
    """What one finished download fetched, written once every file is verified."""

    repo: str
    revision: str = Field(description="The commit the files were fetched from.")
    model: str = Field(description="The model file's name in the folder (the first shard).")
    files: list[DownloadedFile]


def downloads_root(layout: HomeLayout) -> Path:
    return layout.models / DOWNLOADS_FOLDER


def model_folder(layout: HomeLayout, repo: str, model_file: str) -> Path:
    """One folder per model, so its projector pairs with it and with nothing else; a split
    model's is named without the part number."""
    return downloads_root(layout) / repo.replace("/", "--") / unsplit_stem(Path(model_file))


def write_record(folder: Path, record: DownloadRecord) -> None:
    write_atomically(folder / RECORD, record.model_dump_json(indent=2))


def read_record(folder: Path) -> DownloadRecord | None:
    """The record of the download that filled `folder`, or None when Hearth did not fill it."""
    path = folder / RECORD
    try:
        return DownloadRecord.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def downloaded_repo(model: Path) -> str | None:
    """The repo a downloaded model file came from, from the record beside it."""
    record = read_record(model.parent)
    return record.repo if record is not None else None


class NotADownloadError(InvalidRequestError):
    """Hearth deletes only the models it downloaded, never another app's or the user's files."""

    status = 403
    code = "not_hearths_to_delete"


def delete_download(layout: HomeLayout, model: Path) -> list[Path]:
    """Delete a downloaded model's files, as its record lists them, and its record; returns
    what was deleted. Anything else in the folder, and any other model, is left alone."""
    folder = model.parent
    record = read_record(folder)
    if downloads_root(layout) not in folder.parents or record is None:
        raise NotADownloadError(
            f"{model} was not downloaded by Hearth, so Hearth does not delete it; "
            "remove it where it came from"
        )
    deleted = []
    for file in [*(folder / Path(f.name).name for f in record.files), folder / RECORD]:
        if file.exists():
            file.unlink()
            deleted.append(file)
    for empty in (folder, folder.parent):  # the model's folder, then its repo's, if now empty
        with contextlib.suppress(OSError):
            empty.rmdir()
    return deleted
