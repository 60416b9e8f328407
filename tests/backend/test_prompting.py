"""Chat templates and fitting a conversation into the context window."""

from __future__ import annotations

import pytest

from backend.llm.chat_template import ChatTemplateError, render_chat
from backend.llm.context_window import ContextBudget, PromptTooLongError, fit_messages


def test_default_template_is_chatml_with_generation_prompt() -> None:
    prompt = render_chat([{"role": "user", "content": "Hi"}], None)
    assert prompt == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_model_template_is_used_with_special_tokens() -> None:
    template = (
        "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}"
    )
    prompt = render_chat([{"role": "user", "content": "Hi"}], template, bos_token="<s>")
    assert prompt == "<s>[user]Hi"


def test_failing_template_raises_a_clear_error() -> None:
    with pytest.raises(ChatTemplateError, match="chat template"):
        render_chat([], "{{ raise_exception('roles must alternate') }}")


def _words(text: str) -> int:
    return len(text.split())


def _render(messages: list[dict[str, str]]) -> str:
    return " ".join(m["content"] for m in messages)


def test_oldest_turns_are_dropped_and_the_system_prompt_kept() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "one two three four"},
        {"role": "assistant", "content": "five six seven"},
        {"role": "user", "content": "eight nine"},
    ]
    prompt, dropped = fit_messages(messages, _render, _words, ContextBudget(6, 0))
    assert dropped == 2
    assert prompt == "be brief eight nine"


def test_nothing_is_dropped_when_it_fits() -> None:
    messages = [{"role": "user", "content": "short"}]
    assert fit_messages(messages, _render, _words, ContextBudget(10, 0)) == ("short", 0)


def test_a_single_message_too_long_is_an_error() -> None:
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "a b c d e f"}]
    expected = (
        r"^This model's maximum context length is 5 tokens\. However, your messages resulted "
        r"in 7 tokens, and 2 more are kept for the reply"
    )
    with pytest.raises(PromptTooLongError, match=expected) as caught:
        fit_messages(messages, _render, _words, ContextBudget(5, 2))
    assert caught.value.param == "messages"


def test_without_dropping_a_conversation_too_long_is_refused_whole() -> None:
    messages = [
        {"role": "user", "content": "one two three four"},
        {"role": "assistant", "content": "five six"},
        {"role": "user", "content": "seven"},
    ]
    assert fit_messages(messages, _render, _words, ContextBudget(2, 0)) == ("seven", 2)
    with pytest.raises(PromptTooLongError, match="your messages resulted in 7 tokens"):
        fit_messages(messages, _render, _words, ContextBudget(2, 0), drop_old_turns=False)
    assert fit_messages(messages, _render, _words, ContextBudget(7, 0), drop_old_turns=False) == (
        "one two three four five six seven",
        0,
    )


def test_the_overflow_message_counts_what_was_sent_and_what_was_tried() -> None:
    messages = [{"role": "user", "content": "a b"}, {"role": "user", "content": "c d e f"}]
    with pytest.raises(PromptTooLongError, match=r"in 6 tokens \(4 even with every older"):
        fit_messages(messages, _render, _words, ContextBudget(3, 0))
