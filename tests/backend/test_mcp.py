"""`hearth mcp` as an agent's host runs it: the MCP SDK's own stdio client starts the installed
command with the network refused, lists the tools and calls them against a real `hearth serve`
whose collection and images were indexed through its API."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import psutil
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent
from PIL import Image

from backend.discovery import read_backend_info
from backend.mcp_server.results import NO_COLLECTIONS
from backend.paths import HomeLayout
from tests.backend.conftest import RunningBackend, TinyClip, launch, prepare_home
from tests.test_offline import GUARD
from training.testing import build_tiny_gguf

HEARTH = str(Path(sys.executable).with_name("hearth"))
TOOLS = {"search_documents", "list_collections", "search_images", "similar_images", "ask_documents"}
NOTES = {
    "harbour.md": "# Harbour\n\nThe ferry leaves the harbour at seven each morning.\n"
    "It returns from the island at six in the evening.\n",
    "garden.txt": "The orchard grows quince and medlar trees along the south wall.\n",
    "servers.md": "# Backups\n\nThe backup server copies every database at 02:30 each night.\n",
}
INITIALIZE = {
    "protocolVersion": "2025-06-18",
    "capabilities": {},
    "clientInfo": {"name": "test", "version": "1"},
}
T = TypeVar("T")


@dataclass(frozen=True)
class Served:
    """A real backend with the collection 'notes' and an image index, and where they came from."""

    backend: RunningBackend
    notes: Path
    pictures: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_clip: TinyClip) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("mcp")
    notes = root / "notes"
    notes.mkdir()
    for name, text in NOTES.items():
        (notes / name).write_text(text)
    pictures = root / "pictures"
    pictures.mkdir()
    for colour in ("red", "blue"):
        Image.new("RGB", (40, 30), colour).save(pictures / f"{colour}.png")
    # Numbered sources make a long prompt: the tiny model gets a context that holds them.
    model = build_tiny_gguf(root / "tiny-1k.gguf", context_length=1024)
    layout = prepare_home(root / "home", model, context_size=1024, image_model=tiny_clip.name)
    tiny_clip.install(layout.root)
    backend = launch(layout)
    try:
        with closing(backend.client()) as client:
            list(client.documents.add("notes", [notes]))
            list(client.images.index_folder(pictures))
        yield Served(backend, notes, pictures)
    finally:
        backend.stop()


@asynccontextmanager
async def mcp_session(home: Path, offline_log: Path) -> AsyncIterator[ClientSession]:
    """`hearth mcp` for this HEARTH_HOME, connected and initialised, any connection off this
    machine refused and written to `offline_log`."""
    env = {
        "HOME": str(home.parent),
        "HEARTH_HOME": str(home),
        "HEARTH_OFFLINE_LOG": str(offline_log),
        "PYTHONPATH": str(GUARD),
    }
    server = StdioServerParameters(command=HEARTH, args=["mcp"], env=env)
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def in_session(home: Path, tmp_path: Path, scenario: Callable[[ClientSession], Awaitable[T]]) -> T:
    """Run `scenario` against one `hearth mcp` process; nothing may have left the machine."""
    offline_log = tmp_path / "offline.log"

    async def main() -> T:
        async with mcp_session(home, offline_log) as session:
            return await scenario(session)

    result = anyio.run(main)
    assert not offline_log.exists(), offline_log.read_text()
    return result


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def structured(result: CallToolResult) -> Any:
    assert not result.is_error, text_of(result)
    return result.structured_content


def test_search_documents_finds_the_right_file_through_the_running_backend(
    served: Served, tmp_path: Path
) -> None:
    layout = served.backend.layout

    async def scenario(session: ClientSession) -> tuple[set[str], Any, Any, int | None]:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        question = {"query": "When does the ferry leave the harbour?", "k": 2}
        one = await session.call_tool("search_documents", question | {"collection": "notes"})
        every = await session.call_tool("search_documents", question)
        serving = read_backend_info(layout)  # while the MCP server is still up
        return tools, one, every, serving.pid if serving else None

    tools, one, every, serving_pid = in_session(layout.root, tmp_path, scenario)
    assert tools == TOOLS
    hits = structured(one)["hits"]
    assert len(hits) == 2 and hits[0]["source"] == str(served.notes / "harbour.md")
    assert (hits[0]["start_line"], hits[0]["end_line"]) == (3, 4) and "ferry leaves" in hits[0][
        "text"
    ]
    assert f"{served.notes / 'harbour.md'}, lines 3-4" in text_of(one)  # readable, with the place
    assert structured(every)["collections"] == ["notes"]  # no collection: all of them
    assert structured(every)["hits"][0]["source"] == hits[0]["source"]
    # It called the backend that was serving, rather than starting one of its own (which
    # would have named itself in backend.json and opened the stores a second time).
    assert serving_pid == served.backend.process.pid


def test_refusals_are_tool_errors_naming_the_problem_and_the_server_goes_on(
    served: Served, tmp_path: Path
) -> None:
    async def scenario(session: ClientSession) -> list[CallToolResult]:
        return [
            await session.call_tool("search_documents", {"query": "ferry", "collection": "ghost"}),
            await session.call_tool("ask_documents", {"question": "Why?", "collection": "ghost"}),
            await session.call_tool("search_documents", {"query": "ferry", "k": 0}),
            await session.call_tool("list_collections", {}),
        ]

    *refused, listing = in_session(served.backend.layout.root, tmp_path, scenario)
    for result in refused[:2]:
        assert result.is_error and "No document collection named 'ghost'" in text_of(result)
    assert refused[2].is_error and "k" in text_of(refused[2])
    [notes] = structured(listing)["collections"]
    assert notes["name"] == "notes" and notes["files"] == len(NOTES)
    assert notes["roots"] == [str(served.notes)] and "notes: 3 files" in text_of(listing)
    with served.backend.http() as http:
        assert http.get("/hearth/conversations").json() == []  # the refused question made none


def test_ask_documents_answers_from_the_collection_with_its_sources(
    served: Served, tmp_path: Path
) -> None:
    async def scenario(session: ClientSession) -> CallToolResult:
        question = {"question": "When does the ferry leave?", "collection": "notes"}
        return await session.call_tool("ask_documents", question)

    result = in_session(served.backend.layout.root, tmp_path, scenario)
    answer = structured(result)
    assert answer["status"] == "complete" and answer["model"] == "tiny-1k"
    assert answer["sources"][0]["path"] == str(served.notes / "harbour.md")
    assert answer["sources"][0]["n"] == 1 and "ferry" in answer["sources"][0]["snippet"]
    assert text_of(result).endswith(f"Sources:\n[1] {served.notes / 'harbour.md'}, lines 3-4")
    with served.backend.http() as http:  # the lookup's conversation is not left in the chat list
        assert http.get("/hearth/conversations").json() == []


def test_image_tools_search_the_backend_index(served: Served, tmp_path: Path) -> None:
    red = served.pictures / "red.png"

    async def scenario(session: ClientSession) -> list[CallToolResult]:
        return [
            await session.call_tool("similar_images", {"path": str(red), "k": 1}),
            await session.call_tool("search_images", {"query": "a red picture"}),
            await session.call_tool("similar_images", {"path": str(tmp_path / "none.png")}),
        ]

    similar, search, missing = in_session(served.backend.layout.root, tmp_path, scenario)
    [same] = structured(similar)["hits"]
    assert same["path"] == str(red) and same["score"] == pytest.approx(1.0, abs=1e-4)
    found = {hit["path"] for hit in structured(search)["hits"]}
    assert found == {str(red), str(served.pictures / "blue.png")}
    assert missing.is_error and "none.png" in text_of(missing)


def test_without_a_backend_it_starts_one_on_the_first_call_and_stops_it(
    tiny_gguf: Path, tmp_path: Path
) -> None:
    layout = prepare_home(tmp_path / "home", tiny_gguf)

    async def serving_pid_after(session: ClientSession) -> int:
        listing = await session.call_tool("list_collections", {})
        assert structured(listing) == {"collections": []} and text_of(listing) == NO_COLLECTIONS
        serving = read_backend_info(layout)
        assert serving is not None
        return serving.pid

    async def scenario(session: ClientSession) -> tuple[int, int]:
        await session.list_tools()
        assert read_backend_info(layout) is None  # listing the tools starts nothing
        first = await serving_pid_after(session)
        os.kill(first, signal.SIGTERM)  # as if the app that served had been closed
        while layout.backend_info.exists():
            await anyio.sleep(0.02)
        return first, await serving_pid_after(session)  # a call after that starts another

    first, second = in_session(layout.root, tmp_path, scenario)
    assert first != second
    assert read_backend_info(HomeLayout(layout.root)) is None, "the backend it started is stopped"


class PlainServer:
    """`hearth mcp` spoken to line by line, as a host that is not the SDK would."""

    def __init__(self, stderr: Path) -> None:
        # stderr goes to a file: a backend it failed to stop would hold a pipe open forever
        self.stderr = stderr
        with stderr.open("wb") as err:
            self.process = subprocess.Popen(
                [HEARTH, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
            )
        self._ids = itertools.count(1)
        self.answer("initialize", INITIALIZE)
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def answer(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """The result of one request; every line of stdout must be its JSON-RPC answer."""
        assert self.process.stdout is not None
        request_id = next(self._ids)
        self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})
        answer = json.loads(self.process.stdout.readline())
        assert answer["id"] == request_id
        return answer["result"]

    def end(self, how: Callable[[subprocess.Popen[bytes]], None]) -> tuple[int, bytes, str]:
        """Exit status, what stdout still held, and stderr, once `how` has ended the server."""
        assert self.process.stdout is not None
        how(self.process)
        code = self.process.wait(timeout=30)  # what is left is far below a pipe's buffer
        return code, self.process.stdout.read(), self.stderr.read_text()


def close_stdin(process: subprocess.Popen[bytes]) -> None:
    assert process.stdin is not None
    process.stdin.close()


def test_stdout_carries_only_the_protocol_and_a_closed_stdin_ends_it(tmp_path: Path) -> None:
    server = PlainServer(tmp_path / "stderr.txt")
    tools = server.answer("tools/list")["tools"]
    code, rest, err = server.end(close_stdin)
    assert {tool["name"] for tool in tools} == TOOLS
    assert (code, rest) == (0, b""), err


def test_sigterm_stops_the_backend_it_started(
    tiny_gguf: Path, hearth_home: Path, tmp_path: Path
) -> None:
    """A host may end its servers with SIGTERM alone: the backend must not outlive this one."""
    layout = prepare_home(hearth_home, tiny_gguf)
    server = PlainServer(tmp_path / "stderr.txt")
    assert not server.answer("tools/call", {"name": "list_collections"})["isError"]
    started = read_backend_info(layout)
    assert started is not None
    code, rest, err = server.end(lambda process: process.send_signal(signal.SIGTERM))
    assert (code, rest) == (128 + signal.SIGTERM, b""), err
    assert read_backend_info(layout) is None and not psutil.pid_exists(started.pid)
