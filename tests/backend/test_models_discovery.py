"""Models other apps downloaded (LM Studio, Ollama, GPT4All, the Hugging Face cache) are found
where they lie, listed with their origin, and chat; broken files never stop the scan."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from backend.cli import main
from backend.models import header_cache
from backend.models.app_folders import APP_FOLDERS, folders_of
from backend.models.discovery import ModelDiscovery
from backend.models.registry import ModelNameTakenError, ModelRegistry
from backend.paths import HomeLayout
from backend.settings import Settings
from tests.backend.conftest import prepare_home, serve_real
from tests.backend.other_apps import (
    OLLAMA_MODEL,
    OLLAMA_PROJECTOR,
    OtherApps,
    fill,
    other_apps_home,
)


@pytest.fixture
def apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OtherApps:
    return other_apps_home(tmp_path / "home", monkeypatch)


def registry(discovery: ModelDiscovery | None = None) -> ModelRegistry:
    layout = HomeLayout.current().ensure()
    return ModelRegistry(layout, layout.root / "none", discovery or ModelDiscovery())


def listed(reg: ModelRegistry) -> dict[str, str]:
    return {entry.name: entry.source for entry in reg.list()}


def test_each_apps_model_is_listed_with_its_origin_and_used_in_place(
    apps: OtherApps, tiny_gguf: Path
) -> None:
    names = fill(apps, tiny_gguf)
    reg = registry()
    assert listed(reg) == {name: origin for origin, name in names.items()}
    paths = {entry.source: entry.path for entry in reg.list()}
    assert paths["lmstudio"] == apps.lmstudio / "lmstudio-community/Tiny-GGUF/tiny-lms-Q8_0.gguf"
    assert paths["ollama"].parent == apps.ollama / "blobs"
    assert paths["huggingface"].parent.parent.name == "snapshots"
    assert all(entry.discovered for entry in reg.list())
    assert not list(HomeLayout.current().models.rglob("*.gguf"))  # nothing was copied
    assert reg.get("tinyllama:latest").path == paths["ollama"]


def test_projectors_tags_and_jan_folders(apps: OtherApps, tiny_gguf: Path, tmp_path: Path) -> None:
    other = tmp_path / "projector.gguf"
    other.write_bytes(tiny_gguf.read_bytes() + b"\0")  # another blob: another digest
    projector = apps.ollama_blob(other)
    layers = {OLLAMA_MODEL: apps.ollama_blob(tiny_gguf), OLLAMA_PROJECTOR: projector}
    apps.ollama_manifest("llava", "7b", layers)
    apps.ollama_manifest("llava", "latest", layers)  # two tags of one blob: both usable
    apps.ollama_manifest("seer", "1b", {OLLAMA_MODEL: layers[OLLAMA_MODEL]}, ns="someone")
    snapshot = apps.hf_snapshot(
        "org/Vision-GGUF",
        {
            "vision-Q4_K_M.gguf": tiny_gguf,
            "vision-Q8_0.gguf": tiny_gguf,
            "mmproj-f16.gguf": tiny_gguf,
        },
    )
    for model_id in ("llama3.2-1b-instruct", "qwen3-4b"):  # Jan: one folder per model
        jan = apps.home / ".local" / "share" / "Jan" / "data" / "llamacpp" / "models" / model_id
        jan.mkdir(parents=True)
        shutil.copy(tiny_gguf, jan / "model.gguf")
    entries = {entry.name: entry for entry in registry().list()}
    assert entries["llava:7b"].mmproj == apps.ollama / "blobs" / projector.replace(":", "-")
    assert entries["llava:latest"].path == entries["llava:7b"].path
    assert entries["someone-seer:1b"].mmproj is None  # another namespace: shown as Ollama does
    # one mmproj beside several quantizations serves each of them
    assert entries["vision-Q4_K_M"].mmproj == snapshot / "mmproj-f16.gguf"
    assert entries["vision-Q8_0"].mmproj == snapshot / "mmproj-f16.gguf"
    assert entries["qwen3-4b"].source == entries["llama3.2-1b-instruct"].source == "jan"


def test_a_split_model_is_one_model_of_all_its_parts(apps: OtherApps, tiny_gguf: Path) -> None:
    split = apps.lmstudio / "org" / "Big-GGUF"
    split.mkdir(parents=True)
    for part in (1, 2):
        shutil.copy(tiny_gguf, split / f"big-Q4_K_M-0000{part}-of-00002.gguf")
    shutil.copy(tiny_gguf, split / "cut-00001-of-00003.gguf")  # its part 2 is missing
    shutil.copy(tiny_gguf, split / "cut-00003-of-00003.gguf")
    own = HomeLayout.current().ensure().models
    for part in (1, 2):  # Hearth's own models folder holds split models the same way
        shutil.copy(tiny_gguf, own / f"mine-0000{part}-of-00002.gguf")
    reg = registry()
    entries = {entry.name: entry for entry in reg.list()}
    assert set(entries) == {"big-Q4_K_M", "mine"}
    assert entries["big-Q4_K_M"].path.name == "big-Q4_K_M-00001-of-00002.gguf"
    size = tiny_gguf.stat().st_size
    assert entries["big-Q4_K_M"].info.file_size == entries["mine"].info.file_size == 2 * size
    broken = {b.name: b.reason for b in reg.broken()}
    assert "cut-00002-of-00003.gguf is missing" in broken["cut"]


def test_a_name_taken_is_told_apart_by_origin_stably(apps: OtherApps, tiny_gguf: Path) -> None:
    for folder in (apps.lmstudio / "a", apps.lmstudio / "b", apps.gpt4all):
        folder.mkdir(parents=True)
        shutil.copy(tiny_gguf, folder / "tiny.gguf")
    shutil.copy(tiny_gguf, HomeLayout.current().ensure().models / "tiny.gguf")
    first = listed(registry())
    assert first["tiny"] == "user"  # Hearth's own keeps its name
    assert first["tiny@lmstudio"] == "lmstudio" and first["tiny@gpt4all"] == "gpt4all"
    [second_lms] = [name for name in first if name.startswith("tiny@lmstudio-")]
    shutil.copy(tiny_gguf, apps.lmstudio / "a" / "aaa.gguf")  # the folders change: names hold
    assert {name for name in listed(registry()) if name.startswith("tiny")} == set(first)
    with pytest.raises(ModelNameTakenError):
        registry().import_gguf(tiny_gguf, "tiny@gpt4all")
    assert second_lms in listed(registry())


def test_the_same_file_is_listed_once(apps: OtherApps, tiny_gguf: Path) -> None:
    apps.gpt4all.mkdir(parents=True)
    shutil.copy(tiny_gguf, apps.gpt4all / "tiny.gguf")
    apps.lmstudio.mkdir(parents=True)
    (apps.lmstudio / "linked.gguf").symlink_to(apps.gpt4all / "tiny.gguf")
    registry().import_gguf(apps.gpt4all / "tiny.gguf", "mine")
    assert listed(registry()) == {"mine": "imported"}


def test_broken_and_unreadable_files_never_stop_the_scan(apps: OtherApps, tiny_gguf: Path) -> None:
    names = fill(apps, tiny_gguf)
    (apps.lmstudio / "truncated.gguf").write_bytes(tiny_gguf.read_bytes()[:3000])
    (apps.lmstudio / "dangling.gguf").symlink_to(apps.home / "gone.gguf")
    (apps.lmstudio / "folder.gguf").mkdir()
    locked = apps.lmstudio / "locked"
    locked.mkdir()
    shutil.copy(tiny_gguf, locked / "locked.gguf")
    locked.chmod(0)
    apps.ollama_manifest("garbled", "latest", {}).write_text("{not json")
    apps.ollama_manifest("lost", "latest", {OLLAMA_MODEL: "sha256:" + "0" * 64})
    apps.ollama_manifest("escape", "latest", {OLLAMA_MODEL: "sha256:../../../etc/passwd"})
    (apps.home / ".cache" / "llama.cpp").write_text("a file where a folder should be")
    try:
        reg = registry()
        found = listed(reg)
        broken = {b.name: b.reason for b in reg.broken()}
    finally:
        locked.chmod(0o755)
    assert set(names.values()) <= set(found)
    assert "truncated" in broken["truncated"]
    assert "cannot be read" in broken["garbled:latest"]
    assert "lost:latest" in broken and "lost:latest" not in found
    assert "no valid blob" in broken["escape:latest"]
    assert not {"truncated", "dangling", "folder", "garbled:latest"} & set(found)


def test_turning_discovery_off_hides_them_and_model_folders_add_more(
    apps: OtherApps, tiny_gguf: Path, tmp_path: Path
) -> None:
    fill(apps, tiny_gguf)
    mine = tmp_path / "my models" / "nested"
    mine.mkdir(parents=True)
    shutil.copy(tiny_gguf, mine / "own.gguf")
    off = Settings(discover_models=False, model_folders=[str(mine.parent)])
    assert listed(registry(ModelDiscovery.from_settings(off))) == {"own": "folder"}
    assert (
        listed(registry(ModelDiscovery.from_settings(Settings())))["tinyllama:latest"] == "ollama"
    )


def test_a_warm_scan_reads_no_header_and_a_changed_file_is_read_again(
    apps: OtherApps, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = fill(apps, tiny_gguf)
    assert set(listed(registry())) == set(names.values())  # cold: reads and remembers

    def no_reading(path: Path) -> None:
        raise AssertionError(f"{path} was read again")

    with monkeypatch.context() as patched:
        patched.setattr(header_cache, "read_gguf_info", no_reading)
        assert set(listed(registry())) == set(names.values())  # a new registry: from disk
    cache = HomeLayout.current().models / "header_cache.json"
    remembered = json.loads(cache.read_text())
    for entry in remembered["files"].values():
        entry["info"] = {"path": "half an entry"}
    cache.write_text(json.dumps(remembered))
    assert set(listed(registry())) == set(names.values())  # a damaged cache is read again
    cache.write_text("{not json")
    assert set(listed(registry())) == set(names.values())
    changed = apps.gpt4all / "tiny-gpt4all.gguf"
    changed.write_bytes(changed.read_bytes()[:3000])
    reg = registry()
    assert "tiny-gpt4all" not in listed(reg)
    assert "tiny-gpt4all" in {b.name for b in reg.broken()}


def test_folders_follow_each_platform_and_its_variables(
    apps: OtherApps, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    table = {app.origin: app for app in APP_FOLDERS}
    assert set(table) == {"lmstudio", "ollama", "gpt4all", "jan", "huggingface", "llama.cpp"}
    for platform in ("linux", "darwin", "win32"):
        lmstudio = folders_of(table["lmstudio"], platform)
        assert apps.home / ".lmstudio" / "models" in lmstudio
    assert Path("/usr/share/ollama/.ollama/models") in folders_of(table["ollama"], "linux")
    assert Path("/usr/share/ollama/.ollama/models") not in folders_of(table["ollama"], "darwin")
    assert folders_of(table["huggingface"]) == [apps.home / ".cache" / "huggingface" / "hub"]
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert folders_of(table["huggingface"]) == [tmp_path / "hf" / "hub"]
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert folders_of(table["huggingface"]) == [tmp_path / "hub"]
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    assert folders_of(table["ollama"], "linux") == [tmp_path / "ollama"]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert folders_of(table["llama.cpp"], "linux") == [tmp_path / "xdg" / "llama.cpp"]


def test_hearth_models_list_shows_origin_and_path(
    apps: OtherApps, tiny_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = fill(apps, tiny_gguf)
    HomeLayout.current().ensure().settings.write_text(json.dumps({"context_size": 512}))
    assert main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for origin, name in names.items():
        [line] = [line for line in lines if line.startswith(f"{name} ")]
        assert f" {origin} " in line and str(apps.home) in line
    assert main(["models", "list", "--json"]) == 0
    shown = {m["name"]: (m["source"], m["path"]) for m in json.loads(capsys.readouterr().out)}
    assert shown["tinyllama:latest"][0] == "ollama"
    assert shown["tiny-gpt4all"] == ("gpt4all", str(apps.gpt4all / "tiny-gpt4all.gguf"))


def test_the_api_lists_them_and_the_ollama_model_answers_a_chat(
    apps: OtherApps, tiny_gguf: Path, tmp_path: Path
) -> None:
    names = fill(apps, tiny_gguf)
    os.remove(apps.gpt4all / "tiny-gpt4all.gguf")  # the home's own copy of tiny is enough
    layout = prepare_home(tmp_path / "hearth", tiny_gguf, default_model="tinyllama:latest")
    served = serve_real(layout)
    try:
        client = served.client()
        origins = {m.name: m.source for m in client.models.available()}
        assert origins["tinyllama:latest"] == "ollama" and origins["tiny"] == "user"
        assert origins["tiny-hf-Q8_0"] == "huggingface" and origins[names["lmstudio"]] == "lmstudio"
        with served.http() as http:
            reply = http.post(
                "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
            )
        assert reply.status_code == 200, reply.text
        assert reply.json()["model"] == "tinyllama:latest"  # the default, from Ollama's store
        assert reply.json()["choices"][0]["message"]["content"]
        with served.http() as http:
            owners = {m["id"]: m["owned_by"] for m in http.get("/v1/models").json()["data"]}
        assert owners["tinyllama:latest"] == "ollama"
    finally:
        served.stop()


def test_deleting_another_apps_model_is_refused_and_leaves_it(
    apps: OtherApps, tiny_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = fill(apps, tiny_gguf)
    path = registry().get(names["ollama"]).path
    assert main(["models", "delete", names["ollama"]]) == 1
    assert "was not downloaded by Hearth" in capsys.readouterr().err
    assert path.exists()
