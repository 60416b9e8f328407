"""The conversation store: schema migrations, CRUD, search, and survival across restarts."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from backend.store import (
    ConversationNotFoundError,
    ConversationStore,
    DatabaseTooNewError,
    MessageNotFoundError,
    connect,
)
from backend.store.migrations import LATEST_VERSION, MIGRATIONS
from backend.wire import Attachment, ConversationSettings, GenerationReport, ImageLabel, Source

REPO_ROOT = Path(__file__).resolve().parents[2]
CAT_PICTURE = Attachment(
    path="/a/cat.png", name="cat.png", labels=[ImageLabel(label="cat", score=0.9)]
)
NOTES_SOURCE = Source(n=1, collection="notes", path="notes.txt", snippet="A cat.", score=0.5)
TIMINGS = GenerationReport(
    model="hearth-smol",
    finish_reason="cancelled",
    prompt_tokens=12,
    completion_tokens=3,
    prompt_ms=10.0,
    generation_ms=20.0,
    prompt_per_second=1200.0,
    generation_per_second=41.5,
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "hearth.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[ConversationStore]:
    with ConversationStore(db_path) as opened:
        yield opened


def user_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_migrations_are_numbered_one_by_one() -> None:
    assert [version for version, _ in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))


def test_fresh_database_is_migrated_with_wal_and_foreign_keys(db_path: Path) -> None:
    conn = connect(db_path)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"conversations", "messages", "messages_by_conversation"} <= tables
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    finally:
        conn.close()
    assert user_version(db_path) == LATEST_VERSION


def test_reopening_applies_nothing_again(db_path: Path) -> None:
    with ConversationStore(db_path) as store:
        kept = store.create("kept")
    # A second run of migration 1 would fail on CREATE TABLE, or drop data if it were rewritten.
    with ConversationStore(db_path) as store:
        assert store.get(kept.id).title == "kept"
    assert user_version(db_path) == LATEST_VERSION


def test_database_from_newer_hearth_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(db_path)) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    with pytest.raises(DatabaseTooNewError, match="newer Hearth"):
        ConversationStore(db_path)
    assert user_version(db_path) == LATEST_VERSION + 1


def test_create_get_rename_and_delete(store: ConversationStore) -> None:
    created = store.create(system_prompt="Be brief.", model="hearth-tiny")
    assert len(created.id) == 32
    assert store.get(created.id) == created
    assert created.title == "New chat"
    assert created.settings == ConversationSettings() and created.collections == []
    assert created.model_dump()["settings"] == {}  # unset settings are left out of the JSON

    renamed = store.rename(created.id, "Trip plans")
    assert renamed.title == "Trip plans"
    assert renamed.updated_at > created.updated_at
    assert store.get(created.id).title == "Trip plans"

    store.delete(created.id)
    with pytest.raises(ConversationNotFoundError):
        store.get(created.id)
    with pytest.raises(ConversationNotFoundError):
        store.delete(created.id)
    with pytest.raises(ConversationNotFoundError):
        store.rename(created.id, "gone")


def test_update_settings_changes_only_the_fields_passed(store: ConversationStore) -> None:
    conversation = store.create(system_prompt="Be brief.", model="hearth-tiny")
    chosen = ConversationSettings(temperature=0.2, seed=40)
    updated = store.update_settings(conversation.id, settings=chosen)
    assert updated.settings == chosen
    assert updated.model_dump()["settings"] == {"temperature": 0.2, "seed": 40}
    assert updated.system_prompt == "Be brief." and updated.model == "hearth-tiny"

    updated = store.update_settings(conversation.id, model=None, collections=["notes"])
    assert updated.model is None
    assert updated.collections == ["notes"]
    assert updated.system_prompt == "Be brief."
    assert store.get(conversation.id) == updated
    with pytest.raises(ConversationNotFoundError):
        store.update_settings("missing", model="x")


def test_list_is_newest_updated_first(store: ConversationStore) -> None:
    first = store.create("first")
    second = store.create("second")
    assert [c.id for c in store.list()] == [second.id, first.id]
    store.add_message(first.id, "user", "hello again")
    assert [c.id for c in store.list()] == [first.id, second.id]


def test_search_matches_title_or_message_text_ignoring_case(store: ConversationStore) -> None:
    recipes = store.create("Bread RECIPES")
    physics = store.create("Homework")
    store.add_message(physics.id, "user", "Explain the Schrödinger equation")
    store.add_message(physics.id, "assistant", "It describes how a quantum state evolves.")
    store.create("Unrelated")

    assert [c.id for c in store.list("recipes")] == [recipes.id]
    assert [c.id for c in store.list("SCHRÖDINGER")] == [physics.id]
    assert [c.id for c in store.list("quantum")] == [physics.id]
    assert store.list("sourdough") == []
    assert store.list("%") == []  # no SQL wildcards
    assert len(store.list()) == 3


def test_messages_keep_order_and_every_field(store: ConversationStore) -> None:
    conversation = store.create()
    question = store.add_message(
        conversation.id, "user", "What is in this picture?", attachments=[CAT_PICTURE]
    )
    answer = store.add_message(
        conversation.id,
        "assistant",
        "A cat [1].",
        model="hearth-smol",
        status="interrupted",
        timings=TIMINGS,
        sources=[NOTES_SOURCE],
    )
    assert store.messages(conversation.id) == [question, answer]
    assert answer.timings == TIMINGS
    assert answer.sources == [NOTES_SOURCE]
    assert question.attachments == [CAT_PICTURE]
    assert question.status == "complete" and question.timings is None
    assert answer.model == "hearth-smol" and answer.status == "interrupted"
    assert store.get(conversation.id).updated_at == answer.created_at


def test_bad_messages_are_refused(store: ConversationStore) -> None:
    conversation = store.create()
    with pytest.raises(ConversationNotFoundError):
        store.add_message("missing", "user", "hi")
    with pytest.raises(ValueError, match="role"):
        store.add_message(conversation.id, "robot", "hi")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="status"):
        store.add_message(conversation.id, "user", "hi", status="done")  # type: ignore[arg-type]
    assert store.messages(conversation.id) == []
    with pytest.raises(ConversationNotFoundError):
        store.messages("missing")


def test_deleting_a_conversation_deletes_its_messages(
    store: ConversationStore, db_path: Path
) -> None:
    doomed = store.create()
    kept = store.create()
    store.add_message(doomed.id, "user", "one")
    store.add_message(doomed.id, "assistant", "two")
    kept_message = store.add_message(kept.id, "user", "stays")
    store.delete(doomed.id)
    with closing(sqlite3.connect(db_path)) as conn:
        remaining = conn.execute("SELECT id FROM messages").fetchall()
    assert remaining == [(kept_message.id,)]


def test_delete_messages_from_removes_that_message_and_later_ones(
    store: ConversationStore,
) -> None:
    conversation = store.create()
    other = store.create()
    texts = ["q1", "a1", "q2", "a2"]
    added = [
        store.add_message(conversation.id, "user" if i % 2 == 0 else "assistant", text)
        for i, text in enumerate(texts)
    ]
    other_message = store.add_message(other.id, "user", "elsewhere")

    assert store.delete_messages_from(conversation.id, added[2].id) == 2
    assert [m.content for m in store.messages(conversation.id)] == ["q1", "a1"]
    assert store.messages(other.id) == [other_message]

    with pytest.raises(MessageNotFoundError):
        store.delete_messages_from(conversation.id, other_message.id)
    assert store.messages(other.id) == [other_message]


def test_everything_survives_a_restart(db_path: Path) -> None:
    with ConversationStore(db_path) as store:
        conversation = store.create("Kept", system_prompt="Be kind.")
        chosen = ConversationSettings(temperature=0.7)
        store.update_settings(conversation.id, settings=chosen, collections=["docs"])
        message = store.add_message(conversation.id, "user", "remember me", sources=[NOTES_SOURCE])
        before = store.get(conversation.id)

    with ConversationStore(db_path) as store:
        assert store.get(conversation.id) == before
        assert store.messages(conversation.id) == [message]


def test_message_added_from_another_thread_is_visible(store: ConversationStore) -> None:
    conversation = store.create()
    errors: list[BaseException] = []

    def add_from_worker() -> None:
        try:
            for i in range(20):
                store.add_message(conversation.id, "assistant", f"worker {i}")
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    worker = threading.Thread(target=add_from_worker)
    worker.start()
    for i in range(20):
        store.add_message(conversation.id, "user", f"main {i}")
    worker.join()

    assert errors == []
    contents = [m.content for m in store.messages(conversation.id)]
    assert len(contents) == 40
    assert [c for c in contents if c.startswith("worker")] == [f"worker {i}" for i in range(20)]


CRASHING_WRITER = """
import os, sys
from pathlib import Path
from backend.store import ConversationStore

store = ConversationStore(Path(sys.argv[1]))
conversation = store.create("Crashy")
for text in ("one", "two", "three"):
    store.add_message(conversation.id, "user", text)
print(conversation.id, flush=True)
os._exit(1)  # dies without close(), as a native crash in llama.cpp would
"""


def test_messages_written_before_a_crash_are_kept(db_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(db_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    conversation_id = result.stdout.strip()

    with ConversationStore(db_path) as store:
        assert [m.content for m in store.messages(conversation_id)] == ["one", "two", "three"]


def test_typed_fields_are_stored_as_the_json_the_api_always_had(db_path: Path) -> None:
    with ConversationStore(db_path) as store:
        conversation = store.create()
        store.update_settings(conversation.id, settings=ConversationSettings(top_p=0.5))
        store.add_message(conversation.id, "assistant", "A cat [1].", sources=[NOTES_SOURCE])
    with closing(sqlite3.connect(db_path)) as conn:
        settings, sources = conn.execute(
            "SELECT c.settings, m.sources FROM conversations c JOIN messages m"
            " ON m.conversation_id = c.id"
        ).fetchone()
        assert json.loads(settings) == {"top_p": 0.5}
        assert json.loads(sources)[0]["path"] == "notes.txt"
        assert json.loads(sources)[0]["snippet"] == "A cat."
        # Settings written before they were typed may hold keys no sampling used, or null.
        conn.execute('UPDATE conversations SET settings = \'{"top_k": 40, "seed": 3}\'')
        conn.commit()
    with ConversationStore(db_path) as store:
        assert store.get(conversation.id).settings == ConversationSettings(seed=3)
