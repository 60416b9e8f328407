"""Quick actions as data: the built-ins, a user's own file over them, and `/name` commands."""

from __future__ import annotations

import json
from pathlib import Path

from backend.quick_actions import expand_command, load_quick_actions


def test_the_built_ins_are_there_and_a_users_own_replace_or_add(tmp_path: Path) -> None:
    actions, problem = load_quick_actions(tmp_path)
    assert problem is None
    assert [a.label for a in actions] == [
        "Summarize",
        "Explain simply",
        "Translate to…",
        "Rewrite formally",
        "Extract action items",
    ]
    own = [
        {"name": "summarize", "label": "Summarize", "prompt": "In one line: {text}"},
        {"name": "tweet", "label": "As a post", "prompt": "Write this as a short post: {text}"},
    ]
    (tmp_path / "quick_actions.json").write_text(json.dumps(own))
    actions, problem = load_quick_actions(tmp_path)
    assert problem is None
    by_name = {a.name: a for a in actions}
    assert by_name["summarize"].apply("A long text.") == "In one line: A long text."
    assert by_name["tweet"].label == "As a post" and len(actions) == 6


def test_a_broken_own_file_is_reported_and_left_out(tmp_path: Path) -> None:
    bad = [{"name": "x", "label": "X", "prompt": "no place for the text"}]
    (tmp_path / "quick_actions.json").write_text(json.dumps(bad))
    actions, problem = load_quick_actions(tmp_path)
    assert len(actions) == 5
    assert problem is not None and "0.prompt" in problem and "{text}" in problem
    misspelt = [{"name": "x", "label": "X", "prompt": "Shorter: {text}", "argumnet": "Tone"}]
    (tmp_path / "quick_actions.json").write_text(json.dumps(misspelt))
    _, problem = load_quick_actions(tmp_path)
    assert problem is not None and "argumnet" in problem


def test_commands_expand_with_an_argument_and_keep_braces_as_typed(tmp_path: Path) -> None:
    actions, _ = load_quick_actions(tmp_path)
    translated = expand_command("/translate French: Good morning {all}", actions)
    assert translated == (
        "Translate the following text to French. Reply with the translation only.\n\n"
        "Good morning {all}"
    )
    assert expand_command("/translate Good morning", actions) is not None, "default: English"
    assert "to English" in (expand_command("/translate Good morning", actions) or "")
    summary = expand_command("/summarize\nThe meeting moved to Friday.", actions)
    assert summary is not None and summary.endswith("\n\nThe meeting moved to Friday.")
    for typed in ("/etc/hosts is missing", "/summarize", "summarize this", "/unknown text"):
        assert expand_command(typed, actions) is None, typed
