"""`hearth --self-test`: the whole offline flow, headless, through the local API, with a report.

It answers a question with the default model, indexes and searches a generated document,
embeds text, and labels a generated image. Exit status 0 when every check passes, else 1.
"""

from __future__ import annotations

import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

from backend.client import HearthClient, backend_session
from backend.paths import HomeLayout

COLLECTION = "hearth-self-test"
PASSPHRASE = "amber-falcon-42"
Check = Callable[[HearthClient, Path], str]


class SelfTestError(AssertionError):
    pass


def check_engine(client: HearthClient, _work: Path) -> str:
    return f"hearth {client.health().version} on {client.url}"


def check_chat(client: HearthClient, _work: Path) -> str:
    question = [{"role": "user", "content": "Which city is the capital of France?"}]
    reply = client.chat_completion(question, max_tokens=32, temperature=0)
    answer = (reply.choices[0].message.content or "").strip()
    if not answer:
        raise SelfTestError("the model gave an empty answer")
    if reply.hearth is None:
        raise SelfTestError("the answer came without Hearth's timings")
    speed = reply.hearth.timings.generation_per_second
    return f"{reply.model}: {answer[:48]!r} ({speed:.0f} tokens/s)"


def check_documents(client: HearthClient, work: Path) -> str:
    note = work / "self-test-note.md"
    note.write_text(
        "# Self-test\n\nHearth keeps everything on this computer.\n\n"
        f"## Passphrase\n\nThe self-test passphrase is {PASSPHRASE}.\n",
        encoding="utf-8",
    )
    documents = client.documents
    deque(documents.add(COLLECTION, [note]), maxlen=0)  # runs the indexing to its end
    try:
        hits = documents.search("What is the self-test passphrase?", [COLLECTION], k=1)
    finally:
        documents.remove(COLLECTION)
    if not hits or PASSPHRASE not in hits[0].text:
        raise SelfTestError("search did not find the passage it had just indexed")
    return f"found the passage in {Path(hits[0].source).name}"


def check_embeddings(client: HearthClient, _work: Path) -> str:
    reply = client.embed(["offline by design"])
    return f"{reply.model}: {len(reply.data[0].embedding)} dimensions"


def check_images(client: HearthClient, work: Path) -> str:
    picture = work / "self-test.png"
    image = Image.new("RGB", (96, 96), "white")
    ImageDraw.Draw(image).ellipse((16, 16, 80, 80), fill="red")
    image.save(picture)
    labels = client.images.label(picture, top=3, text=False).labels
    if not labels or not 0.0 < labels[0].score <= 1.0:
        raise SelfTestError("the image labeller returned no probabilities")
    return f"top label {labels[0].label!r} ({labels[0].score:.0%})"


CHECKS: tuple[tuple[str, Check], ...] = (
    ("engine starts", check_engine),
    ("chat with the default model", check_chat),
    ("index and search a document", check_documents),
    ("text embeddings", check_embeddings),
    ("label an image", check_images),
)


def run_self_test(layout: HomeLayout | None = None) -> int:
    print("Hearth self-test (offline)")
    failures = 0
    with (
        tempfile.TemporaryDirectory(prefix="hearth-self-test-") as work,
        backend_session(layout) as client,
    ):
        for name, check in CHECKS:
            started = time.perf_counter()
            try:
                detail, status = check(client, Path(work)), "ok"
            except Exception as exc:  # every failure is reported, and the next check still runs
                detail, status = f"{type(exc).__name__}: {exc}", "FAIL"
                failures += 1
            elapsed = (time.perf_counter() - started) * 1000
            print(f"  {status:<4}  {name:<30} {detail} ({elapsed:.0f} ms)", flush=True)
    print("all checks passed" if not failures else f"{failures} of {len(CHECKS)} checks failed")
    return 0 if not failures else 1
