"""Images through a real backend: questions about an image, labels, indexing and search."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.backend.conftest import InProcessRealBackend, TinyClip, prepare_home, serve_real


def png_bytes(colour: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def backend(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, tiny_clip: TinyClip
) -> Iterator[InProcessRealBackend]:
    layout = prepare_home(tmp_path_factory.mktemp("home"), tiny_gguf, image_model=tiny_clip.name)
    tiny_clip.install(layout.root)
    running = serve_real(layout)
    yield running
    running.stop()


def test_openai_client_asks_about_an_image(backend: InProcessRealBackend) -> None:
    client = backend.openai()
    question = {"type": "text", "text": "What is in this picture?"}
    picture = {"type": "image_url", "image_url": {"url": data_url(png_bytes("red"))}}
    with_image = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": [question, picture]}], max_tokens=4
    )
    without = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": [question]}], max_tokens=4
    )
    (attachment,) = with_image.model_extra["hearth"]["attachments"]  # type: ignore[index]
    assert len(attachment["labels"]) == 5
    assert Path(attachment["path"]).parent == backend.layout.root / "attachments"
    assert with_image.usage is not None and without.usage is not None
    # The labels and their scores went into the prompt the model read.
    assert with_image.usage.prompt_tokens > without.usage.prompt_tokens + 40


def test_attached_images_are_stored_with_the_message(
    backend: InProcessRealBackend, tmp_path: Path
) -> None:
    photo = tmp_path / "holiday.png"
    photo.write_bytes(png_bytes("blue"))
    with backend.http() as http:
        cid = http.post("/hearth/conversations", json={}).json()["id"]
        body = {"content": "Describe it", "images": [str(photo)], "stream": False}
        reply = http.post(f"/hearth/conversations/{cid}/messages", json=body).json()
        stored = http.get(f"/hearth/conversations/{cid}").json()["messages"][0]
    assert reply["user"]["attachments"][0]["name"] == "holiday.png"
    assert stored["attachments"] == reply["user"]["attachments"]
    assert Path(stored["attachments"][0]["path"]).is_file()


def test_bad_images_get_clear_errors_and_serving_continues(backend: InProcessRealBackend) -> None:
    truncated = png_bytes("green", (64, 64))[:60]
    heic = b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40
    with backend.http() as http:
        cid = http.post("/hearth/conversations", json={}).json()["id"]
        for data, status, words in (
            (truncated, 400, "damaged or truncated"),
            (heic, 415, "unsupported format"),
        ):
            body = {"content": "?", "images": [data_url(data)], "stream": False}
            response = http.post(f"/hearth/conversations/{cid}/messages", json=body)
            assert response.status_code == status and words in response.json()["error"]["message"]
        assert http.get(f"/hearth/conversations/{cid}").json()["messages"] == []
        assert http.get("/health").status_code == 200


def test_label_index_search_and_similar_routes(
    backend: InProcessRealBackend, tmp_path: Path
) -> None:
    folder = tmp_path / "album"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    with backend.http() as http:
        labels = http.post(
            "/hearth/images/label", json={"image": str(folder / "0.png"), "labels": ["a", "b"]}
        )
        scores = [item["score"] for item in labels.json()["labels"]]
        assert sum(scores) == pytest.approx(1.0, abs=1e-4)
        done = http.post("/hearth/images/index", json={"folder": str(folder)}).json()
        assert (done["done"], done["embedded"]) == (5, 5)
        assert len(http.get("/hearth/images/search", params={"q": "a cat", "k": 3}).json()) == 3
        twin = http.post("/hearth/images/similar", json={"image": str(folder / "3.png")}).json()[0]
        assert twin["path"] == str((folder / "3.png").resolve()) and twin["score"] > 0.999
        missing = http.post("/hearth/images/index", json={"folder": str(tmp_path / "nope")})
        assert missing.status_code == 400


def test_folders_the_server_cannot_resolve_and_bad_counts_are_refused(
    backend: InProcessRealBackend,
) -> None:
    """An empty or relative folder or image would name the server's own working folder."""
    with backend.http() as http:
        for folder in ("", "."):
            body = {"folder": folder, "stream": True}
            with http.stream("POST", "/hearth/images/index", json=body) as response:
                assert response.status_code == 400, folder  # before any indexing starts
                assert json.loads(response.read())["error"]["code"] == "folder_not_found"
        for route in ("label", "similar"):
            relative = http.post(f"/hearth/images/{route}", json={"image": "photo.png"})
            assert relative.status_code == 400 and "full path" in relative.text, route
        for k in (0, -1, 501):
            response = http.get("/hearth/images/search", params={"q": "a cat", "k": k})
            assert response.status_code == 400, k
            assert response.json()["error"]["param"] == "k"
        assert http.get("/health").status_code == 200


# `hearth images` as a user runs it, which fails if it imported chromadb (opened the store).
CLI_WITHOUT_CHROMA = """
import sys
from backend.cli import main
code = main(sys.argv[1:])
assert "chromadb" not in sys.modules, "the CLI opened the Chroma store itself"
sys.exit(code)
"""


def test_the_cli_indexes_and_searches_through_the_running_backend(
    backend: InProcessRealBackend, tmp_path: Path
) -> None:
    folder = tmp_path / "cli-album"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    env = os.environ | {"HEARTH_HOME": str(backend.layout.root)}

    def hearth_images(*args: str) -> Any:
        command = [sys.executable, "-c", CLI_WITHOUT_CHROMA, "images", *args, "--json"]
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    indexed = hearth_images("index", "cli-album")  # relative to the CLI's working folder
    assert (indexed["images"], indexed["embedded"]) == (3, 3)
    twin = str((folder / "1.png").resolve())
    with backend.http() as http:  # the backend's own index holds what the CLI indexed
        found = http.post("/hearth/images/similar", json={"image": twin, "k": 1}).json()
    assert found[0]["path"] == twin and found[0]["score"] > 0.999
    assert hearth_images("similar", str(folder / "1.png"), "--k", "1")[0]["path"] == twin
    assert len(hearth_images("search", "a red car", "--k", "2")) == 2
    assert hearth_images("index", "cli-album")["unchanged"] == 3
