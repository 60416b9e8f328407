"""Downloading GGUF models from a Hugging Face Hub: against a mock Hub on loopback
(tests/backend/hub_mock.py) reached through HF_ENDPOINT, with HOME, HEARTH_HOME and HF_HOME in
tmp_path. Resume, checksums, the RAM and disk checks, file choice, the API's queue and events,
and the curated catalog."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from backend.client import BackendError
from backend.models.catalog import catalog_entries, fit_badge, load_catalog
from backend.models.download import (
    DownloadCancelledError,
    DownloadPlan,
    Progress,
    run_download,
    size_estimate,
)
from backend.models.download_queue import DownloadQueue
from backend.models.download_request import DownloadRequest, prepare_download
from backend.models.hub import HubFile, ModelChoice, NoModelFileError, RepoListing, choose
from backend.models.registry import ModelRegistry
from backend.paths import HomeLayout
from tests.backend.conftest import InProcessRealBackend
from tests.backend.hub_mock import HubFileSpec, HubMock, closed_port
from tests.backend.inprocess_cli import HEARTH, run_hearth, run_installed_hearth

GIB = 1024**3
REPO = "test/tiny-GGUF"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HomeLayout:
    """HOME, HEARTH_HOME and HF_HOME in tmp_path: nothing of the user's is read or written."""
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "hearth"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    layout = HomeLayout(tmp_path / "hearth").ensure()
    layout.settings.write_text(json.dumps({"context_size": 512}))
    return layout


@pytest.fixture()
def tiny_bytes(tiny_gguf: Path) -> bytes:
    return tiny_gguf.read_bytes()


@contextmanager
def serve(monkeypatch: pytest.MonkeyPatch, hub: HubMock) -> Iterator[HubMock]:
    """`hub` serving, with HF_ENDPOINT naming it."""
    with hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        yield hub


def downloaded_files(layout: HomeLayout) -> list[Path]:
    return sorted(p for p in layout.root.rglob("*") if p.is_file() and ".gguf" in p.name)


def test_a_cut_transfer_resumes_with_a_range_request_and_the_model_is_listed(
    monkeypatch: pytest.MonkeyPatch, home: HomeLayout, tiny_bytes: bytes
) -> None:
    half = len(tiny_bytes) // 2
    with serve(
        monkeypatch,
        HubMock(
            {REPO: [HubFileSpec("tiny-Q8_0.gguf", tiny_bytes)]}, cut_after={"tiny-Q8_0.gguf": half}
        ),
    ) as hub:
        result = run_hearth("models", "download", REPO)
    assert result.code == 0, result.err
    gets = hub.file_gets("tiny-Q8_0.gguf")
    assert len(gets) == 2 and "Range" not in gets[0].headers
    resumed_from = int(gets[1].headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_from <= half  # only what the cut connection had not delivered

    model = home.models / "downloaded" / "test--tiny-GGUF" / "tiny-Q8_0" / "tiny-Q8_0.gguf"
    assert hashlib.sha256(model.read_bytes()).digest() == hashlib.sha256(tiny_bytes).digest()
    entry = next(e for e in ModelRegistry(home).list() if e.name == "tiny-Q8_0")
    assert (entry.source, entry.repo, entry.path) == ("downloaded", REPO, model)
    listed = run_hearth("models", "list")
    assert any("tiny-Q8_0" in line and "downloaded" in line for line in listed.out.splitlines())
    assert downloaded_files(home) == [model]  # no partial file left behind


def test_a_killed_download_resumes_where_its_partial_file_stopped(
    monkeypatch: pytest.MonkeyPatch, home: HomeLayout, tiny_bytes: bytes
) -> None:
    """A killed process leaves its partial file; the same command appends only what is missing."""
    with serve(monkeypatch, HubMock({REPO: [HubFileSpec("tiny-Q8_0.gguf", tiny_bytes)]})) as hub:
        plan = prepare_download(home, 512, DownloadRequest(REPO))
        partial = plan.partial(plan.model_file)
        partial.parent.mkdir(parents=True)
        partial.write_bytes(tiny_bytes[:1000])
        result = run_hearth("models", "download", REPO)
    assert result.code == 0, result.err
    [get] = hub.file_gets()
    assert get.headers["Range"] == "bytes=1000-"
    assert not partial.exists()
    assert (plan.folder / "tiny-Q8_0.gguf").read_bytes() == tiny_bytes


def test_wrong_bytes_are_refused_and_leave_no_file_and_no_model(
    monkeypatch: pytest.MonkeyPatch, home: HomeLayout, tiny_bytes: bytes
) -> None:
    lying = HubFileSpec("tiny-Q8_0.gguf", tiny_bytes, sha256="0" * 64)
    with serve(monkeypatch, HubMock({REPO: [lying]})):
        result = run_hearth("models", "download", REPO)
    assert result.code == 1
    assert "do not match the sha256 Hugging Face reports" in result.err
    assert "the file was deleted" in result.err and "Traceback" not in result.err
    assert downloaded_files(home) == []
    assert all(e.source != "downloaded" for e in ModelRegistry(home).list())


def test_a_closed_port_gives_one_clear_line_fast(home: HomeLayout, tmp_path: Path) -> None:
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}
    started = time.monotonic()
    result = _installed(env, "models", "download", REPO)
    assert time.monotonic() - started < 30
    assert result.code == 1
    assert result.err.startswith("hearth: cannot reach Hugging Face"), result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err


def _installed(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        return run_installed_hearth(*args, timeout=60)
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_a_model_too_big_for_the_ram_is_refused_before_any_byte(
    monkeypatch: pytest.MonkeyPatch, home: HomeLayout, tiny_bytes: bytes
) -> None:
    huge = HubFileSpec("huge-Q4_K_M.gguf", tiny_bytes, size=1 << 50)  # a pebibyte, it says
    with serve(monkeypatch, HubMock({REPO: [huge]})) as hub:
        refused = run_hearth("models", "download", REPO)
        forced = run_hearth("models", "download", REPO, "--force")
    assert refused.code == 1
    assert "GiB of RAM" in refused.err and "GiB is available" in refused.err
    assert "--force" in refused.err
    assert forced.code == 1 and "more disk space but only" in forced.err  # then the disk says no
    assert [r for r in hub.requests if "/resolve/" in r.path] == []  # not even a HEAD
    assert downloaded_files(home) == []


def two_quants(tiny_bytes: bytes) -> HubMock:
    return HubMock(
        {
            REPO: [
                HubFileSpec("tiny-Q4_K_M.gguf", tiny_bytes[:-1] + b"\0"),
                HubFileSpec("tiny-Q8_0.gguf", tiny_bytes),
                HubFileSpec("mmproj-tiny-f16.gguf", tiny_bytes),
            ]
        }
    )


def test_several_models_and_no_choice_lists_them_without_fetching(
    monkeypatch: pytest.MonkeyPatch, tiny_bytes: bytes
) -> None:
    with serve(monkeypatch, two_quants(tiny_bytes)) as hub:
        result = run_hearth("models", "download", REPO)
    assert result.code == 1
    lines = result.err.splitlines()
    assert "offers 2 models; pick one with --file or --quant" in lines[0]
    assert [line.split(",")[0].strip() for line in lines[1:]] == [
        "tiny-Q4_K_M.gguf",
        "tiny-Q8_0.gguf",
    ]
    assert hub.file_gets() == []


def test_a_quant_picks_its_file_and_the_projector_comes_with_it(
    monkeypatch: pytest.MonkeyPatch, home: HomeLayout, tiny_bytes: bytes
) -> None:
    with serve(monkeypatch, two_quants(tiny_bytes)) as hub:
        result = run_hearth("models", "download", REPO, "--quant", "q8_0")
    assert result.code == 0, result.err
    fetched = sorted(r.path.rsplit("/", 1)[-1] for r in hub.file_gets())
    assert fetched == ["mmproj-tiny-f16.gguf", "tiny-Q8_0.gguf"]
    entry = ModelRegistry(home).get("tiny-Q8_0")
    assert entry.vision and entry.mmproj == entry.path.parent / "mmproj-tiny-f16.gguf"
    assert entry.source == "downloaded"


def _listing(*names: str) -> RepoListing:
    from backend.models.hub import _group_shards

    files = [HubFile(name, 100, "a" * 64) for name in names]
    return RepoListing(REPO, "c" * 40, _group_shards(files), ())


def test_a_split_model_downloads_whole_and_quants_match_whole_tokens() -> None:
    listing = _listing(
        "Q2_K/big-Q2_K-00002-of-00002.gguf",
        "Q2_K/big-Q2_K-00001-of-00002.gguf",
        "big-Q4_K_M.gguf",
        "big-Q4_K_S.gguf",
    )
    split = choose(listing, None, "q2_k")
    assert [f.name for f in split.files] == [
        "Q2_K/big-Q2_K-00001-of-00002.gguf",
        "Q2_K/big-Q2_K-00002-of-00002.gguf",
    ]
    assert choose(listing, "big-Q2_K-00002-of-00002.gguf", None) == split  # any shard: all
    assert choose(listing, None, "Q4_K_S").name == "big-Q4_K_S.gguf"
    with pytest.raises(NoModelFileError, match="no Q4_K file"):
        choose(listing, None, "Q4_K")  # not a prefix of Q4_K_M: it names neither
    assert isinstance(split, ModelChoice) and split.size == 200


def test_cancel_keeps_the_partial_file_and_the_next_run_resumes_it(
    monkeypatch: pytest.MonkeyPatch, home: HomeLayout
) -> None:
    content = os.urandom(3 * 1024 * 1024)
    with serve(monkeypatch, HubMock({REPO: [HubFileSpec("blob-Q8_0.gguf", content)]})) as hub:
        plan = prepare_download(home, 512, DownloadRequest(REPO))
        cancel = threading.Event()

        def cancel_at_once(progress: Progress) -> None:
            if progress.bytes_done > 0:
                cancel.set()

        with pytest.raises(DownloadCancelledError):
            run_download(plan, cancel_at_once, cancel)
        kept = plan.partial(plan.model_file).stat().st_size
        assert 0 < kept < len(content)
        assert not plan.folder.exists()
        model = run_download(plan, lambda _progress: None, threading.Event())
    assert hub.file_gets()[-1].headers["Range"] == f"bytes={kept}-"
    assert model.read_bytes() == content


def test_the_queue_runs_one_download_at_a_time_and_cancels_a_queued_one(
    home: HomeLayout,
) -> None:
    started: list[str] = []
    release = threading.Event()

    def runner(plan: DownloadPlan, listener, cancel: threading.Event) -> Path:  # type: ignore[no-untyped-def]
        started.append(plan.repo)
        release.wait(10)
        return plan.folder / plan.model_file.basename

    queue = DownloadQueue(runner)
    first = queue.submit(_plan(home, "a/first"))
    second = queue.submit(_plan(home, "a/second"))
    assert queue.status(second.id).state == "queued"
    assert queue.cancel(second.id).state == "cancelled"
    release.set()
    states = [status.state for status in queue.watch(first.id)]
    assert states[-1] == "finished" and queue.status(first.id).model == "m-Q8_0"
    assert started == ["a/first"]  # the cancelled one never started
    queue.close()


def _plan(layout: HomeLayout, repo: str) -> DownloadPlan:
    file = HubFile("m-Q8_0.gguf", 10, "b" * 64)
    return DownloadPlan(repo, "c" * 40, (file,), layout.models / repo, layout.root / repo)


def test_the_api_streams_progress_and_the_download_then_answers_a_chat(
    monkeypatch: pytest.MonkeyPatch, backend: InProcessRealBackend, tiny_bytes: bytes
) -> None:
    repo = "test/chat-GGUF"
    mock = HubMock({repo: [HubFileSpec("chat-Q8_0.gguf", tiny_bytes)]})
    with serve(monkeypatch, mock), closing(backend.client()) as client:
        events = list(client.models.download(repo))
    assert events[0].state in ("queued", "downloading") and events[-1].state == "finished"
    last = events[-1]
    assert last.bytes_done == last.bytes_total == len(tiny_bytes) and last.model == "chat-Q8_0"
    assert all(e.type == "download" and e.repo == repo for e in events)
    with closing(backend.client()) as client:
        listed = {m.name: m for m in client.models.available()}
        assert (listed["chat-Q8_0"].source, listed["chat-Q8_0"].repo) == ("downloaded", repo)
        assert [d.state for d in client.models.downloads()][-1] == "finished"
    with backend.http() as http:
        body = {"model": "chat-Q8_0", "messages": [{"role": "user", "content": "hi"}]}
        answer = http.post("/v1/chat/completions", json=body | {"max_tokens": 4})
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "chat-Q8_0"


def test_the_api_asks_for_a_choice_and_refuses_what_will_not_fit(
    monkeypatch: pytest.MonkeyPatch, backend: InProcessRealBackend, tiny_bytes: bytes
) -> None:
    huge = HubFileSpec("huge-Q8_0.gguf", tiny_bytes, size=1 << 50)
    mock = two_quants(tiny_bytes)
    mock.repos["test/huge-GGUF"] = [huge]
    with serve(monkeypatch, mock) as hub, closing(backend.client()) as client:
        with pytest.raises(BackendError) as choice:
            client.models.start_download(REPO)
        with pytest.raises(BackendError) as too_big:
            client.models.start_download("test/huge-GGUF")
        repo = client.models.hub_repo(REPO)
        with backend.http() as http:
            unknown = http.post("/hearth/models/downloads", json={"repo": REPO, "revision": "v2"})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "revision"
    assert choice.value.status == 409 and "tiny-Q4_K_M.gguf" in str(choice.value)
    assert too_big.value.status == 400 and "GiB of RAM" in str(too_big.value)
    assert [c.file for c in repo.choices] == ["tiny-Q4_K_M.gguf", "tiny-Q8_0.gguf"]
    assert repo.projector == "mmproj-tiny-f16.gguf"
    assert hub.file_gets() == []


def test_the_catalog_is_valid_and_its_minimums_match_the_download_check() -> None:
    catalog = load_catalog()
    assert 10 <= len(catalog.models) <= 16 and "not verified online" in catalog.note
    assert len({m.id for m in catalog.models}) == len(catalog.models)
    for model in catalog.models:
        total = model.size_bytes + model.mmproj_size_bytes
        assert model.repo.count("/") == 1 and model.license and model.good_for
        if model.kind == "chat":
            assert model.file.endswith(".gguf") and model.quantization in model.file.upper()
            needed = size_estimate(total, 4096, available=0).total
            assert needed <= model.min_ram_bytes < needed + GIB // 10
    assert any(m.vision for m in catalog.models) and any(not m.vision for m in catalog.models)


def test_fit_badges_compare_the_available_ram_with_the_minimum() -> None:
    assert fit_badge(2 * GIB, 4 * GIB) == "runs well"
    assert fit_badge(2 * GIB, 2 * GIB) == "tight"
    assert fit_badge(2 * GIB, 2 * GIB - 1) == "too big"
    entries = catalog_entries(load_catalog(), available=3 * GIB)
    badges = {e.model.id: e.fit.badge for e in entries}
    assert badges["qwen3-0.6b"] == "runs well" and badges["qwen3-8b"] == "too big"


def test_hearth_models_catalog_shows_each_fit_with_its_numbers(
    backend: InProcessRealBackend,
) -> None:
    result = run_hearth("models", "catalog")
    assert result.code == 0
    line = next(line for line in result.out.splitlines() if line.startswith("qwen3-0.6b"))
    assert "Qwen/Qwen3-0.6B-GGUF" in line and "GiB available" in line and "needs 1.4 GiB" in line
    assert any(badge in line for badge in ("runs well", "tight", "too big"))
    with closing(backend.client()) as client:
        served = client.models.catalog()
    assert [e.model.id for e in served] == [m.id for m in load_catalog().models]


def test_a_catalog_id_downloads_its_repo_and_file(
    monkeypatch: pytest.MonkeyPatch, home: HomeLayout, tiny_bytes: bytes
) -> None:
    files = [HubFileSpec(n, tiny_bytes) for n in ("Qwen3-0.6B-Q8_0.gguf", "Qwen3-0.6B-F16.gguf")]
    with serve(monkeypatch, HubMock({"Qwen/Qwen3-0.6B-GGUF": files})):
        result = run_hearth("models", "download", "qwen3-0.6b")
    assert result.code == 0, result.err
    assert ModelRegistry(home).get("Qwen3-0.6B-Q8_0").repo == "Qwen/Qwen3-0.6B-GGUF"


def test_a_download_never_lists_a_partial_file(home: HomeLayout, tiny_bytes: bytes) -> None:
    """Partial files grow outside the models folder and are not named *.gguf."""
    plan = _plan(home, REPO)
    partial = plan.partial(plan.model_file)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(tiny_bytes)
    assert partial.name.endswith(".incomplete") and home.models not in partial.parents
    assert all(e.source != "downloaded" for e in ModelRegistry(home).list())


def test_delete_removes_only_what_hearth_downloaded(
    monkeypatch: pytest.MonkeyPatch, home: HomeLayout, tiny_bytes: bytes, tmp_path: Path
) -> None:
    with serve(monkeypatch, two_quants(tiny_bytes)):
        assert run_hearth("models", "download", REPO, "--quant", "Q8_0").code == 0
    folder = ModelRegistry(home).get("tiny-Q8_0").path.parent
    users_own = folder / "notes.txt"  # not in the download's record: not Hearth's to delete
    users_own.write_text("mine")
    elsewhere = tmp_path / "elsewhere.gguf"
    elsewhere.write_bytes(tiny_bytes)
    assert run_hearth("models", "import", str(elsewhere)).code == 0

    result = run_hearth("models", "delete", "tiny-Q8_0")
    assert result.code == 0, result.err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert "tiny-Q8_0" not in {e.name for e in ModelRegistry(home).list()}
    refused = run_hearth("models", "delete", "elsewhere")
    assert refused.code == 1 and "was not downloaded by Hearth" in refused.err
    assert elsewhere.exists()


def test_the_api_deletes_a_download_and_refuses_any_other_model(
    monkeypatch: pytest.MonkeyPatch, backend: InProcessRealBackend, tiny_bytes: bytes
) -> None:
    repo = "test/gone-GGUF"
    mock = HubMock({repo: [HubFileSpec("gone-Q8_0.gguf", tiny_bytes)]})
    with serve(monkeypatch, mock), closing(backend.client()) as client:
        assert list(client.models.download(repo))[-1].state == "finished"
    shipped = backend.layout.models / "tiny.gguf"
    with backend.http() as http:
        assert http.delete("/hearth/models/gone-Q8_0").status_code == 204
        refused = http.delete("/hearth/models/tiny")
        assert http.get("/hearth/models/gone-Q8_0").status_code == 404
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_hearths_to_delete"
    assert shipped.exists()


def test_ctrl_c_leaves_a_partial_file_that_the_same_command_resumes(
    monkeypatch: pytest.MonkeyPatch, home: HomeLayout, tiny_bytes: bytes
) -> None:
    held = HubMock({REPO: [HubFileSpec("tiny-Q8_0.gguf", tiny_bytes)]})
    held.stall_after["tiny-Q8_0.gguf"] = 100_000  # the transfer waits there, mid-file
    with serve(monkeypatch, held):
        command = subprocess.Popen(
            [HEARTH, "models", "download", REPO], stderr=subprocess.PIPE, text=True
        )
        partials = home.root / "downloads" / "test--tiny-GGUF"
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size for p in partials.glob("*.incomplete")):
            assert time.monotonic() < deadline and command.poll() is None, "no bytes arrived"
            time.sleep(0.05)
        command.send_signal(signal.SIGINT)
        _, err = command.communicate(timeout=30)
        held.release.set()
    assert command.returncode == 130
    assert "run the same command to resume" in err and "Traceback" not in err
    [partial] = partials.glob("*.incomplete")
    kept = partial.stat().st_size
    assert 0 < kept <= 100_000

    with serve(monkeypatch, HubMock({REPO: [HubFileSpec("tiny-Q8_0.gguf", tiny_bytes)]})) as hub:
        assert run_hearth("models", "download", REPO).code == 0
    assert hub.file_gets()[0].headers["Range"] == f"bytes={kept}-"
    assert ModelRegistry(home).get("tiny-Q8_0").path.read_bytes() == tiny_bytes


def test_a_search_of_the_hub_lists_gguf_repos_by_name(
    monkeypatch: pytest.MonkeyPatch, backend: InProcessRealBackend, tiny_bytes: bytes
) -> None:
    spec = HubFileSpec("x-Q8_0.gguf", tiny_bytes)
    mock = HubMock({"a/qwen-GGUF": [spec], "b/Qwen3-GGUF": [spec], "c/llama-GGUF": [spec]})
    with serve(monkeypatch, mock) as hub, closing(backend.client()) as client:
        result = run_hearth("models", "search", "qwen")
        served = client.models.search_hub("QWEN", limit=1)
    assert result.code == 0, result.err
    assert [line.split()[0] for line in result.out.splitlines()] == ["a/qwen-GGUF", "b/Qwen3-GGUF"]
    assert [hit.repo for hit in served] == ["a/qwen-GGUF"]
    asked = [r.query for r in hub.requests if r.path == "/api/models"]
    assert len(asked) == 2 and all("filter=gguf" in query for query in asked)


def test_a_split_model_downloads_whole_and_is_listed_once(
    monkeypatch: pytest.MonkeyPatch, home: HomeLayout, tiny_bytes: bytes
) -> None:
    parts = [f"Q2_K/tiny-Q2_K-0000{n}-of-00002.gguf" for n in (1, 2)]
    files = [HubFileSpec(name, tiny_bytes) for name in [*parts, "tiny-Q8_0.gguf"]]
    with serve(monkeypatch, HubMock({REPO: files})) as hub:
        result = run_hearth("models", "download", REPO, "--quant", "Q2_K")
    assert result.code == 0, result.err
    assert "downloaded tiny-Q2_K ->" in result.out
    assert sorted(r.path.split("/", 5)[-1] for r in hub.file_gets()) == parts
    [entry] = [e for e in ModelRegistry(home).list() if e.source == "downloaded"]
    assert (entry.name, entry.repo) == ("tiny-Q2_K", REPO)
    assert entry.info.file_size == 2 * len(tiny_bytes)  # both parts counted
    assert entry.path.parent.name == "tiny-Q2_K"


def test_the_hugging_face_token_kept_in_settings_is_sent_to_the_hub_only(
    monkeypatch: pytest.MonkeyPatch, home: HomeLayout, tiny_bytes: bytes
) -> None:
    """A gated or private repo needs the user's token: kept as a secret, sent on every Hub
    request (listing and file), never written to settings.json; HF_TOKEN still wins."""
    from backend.settings import Settings

    monkeypatch.delenv("HF_TOKEN", raising=False)
    Settings.load(home).model_copy(update={"hf_token": "hf_kept"}).save(home)
    assert "hf_kept" not in home.settings.read_text()
    with serve(monkeypatch, HubMock({REPO: [HubFileSpec("tiny-Q8_0.gguf", tiny_bytes)]})) as hub:
        result = run_hearth("models", "download", REPO)
        assert result.code == 0, result.err
        assert authorizations(hub) == {"Bearer hf_kept"}
        monkeypatch.setenv("HF_TOKEN", "hf_from_env")
        hub.requests.clear()
        run_hearth("models", "download", REPO)
        assert authorizations(hub) == {"Bearer hf_from_env"}


def authorizations(hub: HubMock) -> set[str | None]:
    """The Authorization header of every request the Hub saw (header names in any case)."""
    return {
        next((v for k, v in r.headers.items() if k.lower() == "authorization"), None)
        for r in hub.requests
    }
