"""A stand-in for the Hugging Face Hub on loopback, speaking the protocol `huggingface_hub` uses:
`GET /api/models?search=...` (a search by name), `GET /api/models/{repo}[/revision/{rev}]` (the
file list, with sizes and LFS sha256 when asked with `blobs=true`) and `HEAD`/`GET
/{repo}/resolve/{rev}/{file}` with `X-Repo-Commit`, the sha256 as `ETag`, `X-Linked-Size`,
`Content-Length` and `Range` requests (206 with `Content-Range`). Tests reach it through
HF_ENDPOINT.

It records every request, can cut a file's first transfer after some bytes (closing the
connection as a dropped network would) or hold it there until released, and can serve metadata
that lies about a file: a sha256 its bytes do not have, or a size it does not have.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"
CHUNK = 1024 * 1024
RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


@dataclass
class HubFileSpec:
    """A file in a mock repo: its bytes, and what the metadata says about them."""

    name: str
    content: bytes
    sha256: str | None = None  # what the listing reports; by default the content's real one
    size: int | None = None  # what the listing reports; by default the content's length

    @property
    def reported_sha256(self) -> str:
        return self.sha256 or hashlib.sha256(self.content).hexdigest()

    @property
    def reported_size(self) -> int:
        return len(self.content) if self.size is None else self.size


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    query: str = ""


@dataclass
class HubMock:
    """The mock Hub; `with HubMock({...}) as hub:` serves it on a free loopback port."""

    repos: dict[str, list[HubFileSpec]]
    cut_after: dict[str, int] = field(default_factory=dict)  # file name -> bytes, first GET only
    stall_after: dict[str, int] = field(default_factory=dict)  # then wait for `release`
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[SeenRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def file_gets(self, name: str | None = None) -> list[SeenRequest]:
        """The GETs of file contents (all of them, or of one file by name)."""
        return [
            r
            for r in self.requests
            if r.method == "GET"
            and "/resolve/" in r.path
            and (name is None or r.path.endswith(f"/{name}"))
        ]

    def __enter__(self) -> HubMock:
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def find(self, repo: str, name: str) -> HubFileSpec | None:
        return next((f for f in self.repos.get(repo, []) if f.name == name), None)

    def search(self, query: dict[str, list[str]]) -> list[dict[str, object]]:
        """`GET /api/models?search=...&filter=gguf&limit=...`: repos whose id holds the text."""
        text = query.get("search", [""])[0].lower()
        limit = int(query.get("limit", ["1000"])[0])
        found = [
            {"id": repo, "modelId": repo, "downloads": 1000 - n, "likes": n, "tags": ["gguf"]}
            for n, repo in enumerate(sorted(self.repos))
            if text in repo.lower()
        ]
        return found[:limit]

    def listing(self, repo: str) -> dict[str, object]:
        siblings = [
            {
                "rfilename": f.name,
                "size": f.reported_size,
                "blobId": hashlib.sha1(f.name.encode()).hexdigest(),
                "lfs": {"size": f.reported_size, "sha256": f.reported_sha256, "pointerSize": 134},
            }
            for f in self.repos[repo]
        ]
        return {"id": repo, "modelId": repo, "sha": COMMIT, "private": False, "siblings": siblings}


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that leaves mid-transfer is what several tests do on purpose


def _handler_for(hub: HubMock) -> type[BaseHTTPRequestHandler]:
    class Handler(_HubHandler):
        mock = hub

    return Handler


class _HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mock: HubMock

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass  # quiet: the test reads `requests` instead

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        query = urlsplit(self.path).query
        self.mock.requests.append(
            SeenRequest(self.command, path, dict(self.headers.items()), query)
        )
        api = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/[^/]+)?", path)
        resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if path == "/api/models":
            self._send_json(self.mock.search(parse_qs(query)))
        elif api and api.group(1) in self.mock.repos:
            self._send_json(self.mock.listing(api.group(1)))
        elif resolve and (spec := self.mock.find(resolve.group(1), resolve.group(3))):
            self._send_file(spec, send_body)
        else:
            code = "RepoNotFound" if api or resolve is None else "EntryNotFound"
            self._send_json({"error": "not found"}, status=404, headers={"X-Error-Code": code})

    def _send_json(
        self, body: object, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_file(self, spec: HubFileSpec, send_body: bool) -> None:
        total = len(spec.content)
        start, status = 0, 200
        wanted = RANGE.match(self.headers.get("Range", ""))
        if wanted:
            start, status = int(wanted.group(1)), 206
        self.send_response(status)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{spec.reported_sha256}"')
        self.send_header("X-Linked-Size", str(spec.reported_size))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(total - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
        self.end_headers()
        if send_body:
            self._stream(spec, start)

    def _stream(self, spec: HubFileSpec, start: int) -> None:
        """The bytes from `start`; the first GET of a file in `cut_after` stops part-way and
        drops the connection."""
        stop = len(spec.content)
        cut = self.mock.cut_after.pop(spec.name, None)
        if cut is not None:
            stop = min(stop, start + cut)
        stall = self.mock.stall_after.pop(spec.name, None)
        view = memoryview(spec.content)
        for offset in range(start, stop, CHUNK):
            end = min(offset + CHUNK, stop)
            if stall is not None and end > start + stall:
                self.wfile.write(view[offset : start + stall])
                self.wfile.flush()
                self.mock.release.wait(30)  # a client that is killed meanwhile never sees more
                offset, stall = start + stall, None
            self.wfile.write(view[offset:end])
        if cut is not None:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
