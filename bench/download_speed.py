"""Download throughput of `hearth models download`'s transfer against a plain `curl` of the same
file from the same server, in one run. Target: Hearth at least 0.9 of curl.

The server is the mock Hub the tests use (tests/backend/hub_mock.py), run in a process of its
own so that neither client shares its interpreter. Hearth's figure is its transfer (the
`huggingface_hub` HTTP download into the partial file); its sha256 check and the move into the
models folder are timed apart and reported as the whole. Rounds alternate curl and Hearth; the
best round of each is reported, so a burst of load from other processes does not decide.

    .venv/bin/python bench/download_speed.py [--mb 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO, FILE = "bench/speed-GGUF", "speed-Q8_0.gguf"
ROOT = Path(__file__).resolve().parent.parent


def serve(megabytes: int) -> None:
    """The server process: print the mock Hub's URL, serve until stdin closes."""
    sys.path.insert(0, str(ROOT))
    from tests.backend.hub_mock import HubFileSpec, HubMock

    content = os.urandom(megabytes * 1024 * 1024)
    with HubMock({REPO: [HubFileSpec(FILE, content)]}) as hub:
        print(hub.url, flush=True)
        sys.stdin.read()


def start_server(megabytes: int) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--mb", str(megabytes)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def time_curl(url: str, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["curl", "--silent", "--fail", "--output", str(out), f"{url}/{REPO}/resolve/main/{FILE}"],
        check=True,
    )
    elapsed = time.perf_counter() - started
    out.unlink()
    return elapsed


def time_hearth(home: Path) -> tuple[float, float]:
    """(transfer seconds, whole seconds): listing excluded, as curl lists nothing."""
    from backend.models.download import run_download
    from backend.models.download_request import DownloadRequest, prepare_download
    from backend.paths import HomeLayout

    layout = HomeLayout(home).ensure()
    shutil.rmtree(layout.models / "downloaded", ignore_errors=True)
    plan = prepare_download(layout, 512, DownloadRequest(REPO), available=1 << 50)
    verifying: list[float] = []

    def listen(progress) -> None:  # type: ignore[no-untyped-def]
        if progress.state == "verifying" and not verifying:
            verifying.append(time.perf_counter())

    started = time.perf_counter()
    run_download(plan, listen, threading.Event())
    ended = time.perf_counter()
    return verifying[0] - started, ended - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="file size in MiB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.mb)

    server, url = start_server(args.mb)
    size = args.mb * 1024 * 1024
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ |= {"HF_ENDPOINT": url, "HF_HOME": f"{tmp}/hf", "HEARTH_HOME": f"{tmp}/h"}
            curl, transfer, whole = [], [], []
            for _ in range(args.rounds):
                curl.append(time_curl(url, Path(tmp) / "curl.out"))
                moved, total = time_hearth(Path(tmp) / "h")
                transfer.append(moved)
                whole.append(total)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait()

    def rate(seconds: float) -> float:
        return size / seconds / 1e6

    best_curl, best_transfer, best_whole = min(curl), min(transfer), min(whole)
    print(f"file: {args.mb} MiB, best of {args.rounds} rounds each")
    print(f"curl:                     {rate(best_curl):8.1f} MB/s")
    print(f"hearth transfer:          {rate(best_transfer):8.1f} MB/s")
    print(f"hearth with sha256+move:  {rate(best_whole):8.1f} MB/s")
    print(f"ratio transfer/curl:      {best_curl / best_transfer:8.3f}  (target >= 0.9)")
    print(f"ratio whole/curl:         {best_curl / best_whole:8.3f}")


if __name__ == "__main__":
    main()
