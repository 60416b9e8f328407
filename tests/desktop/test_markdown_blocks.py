"""Splitting replies into prose and code, including a code block still being streamed."""

from __future__ import annotations

from desktop.chat.markdown_blocks import Block, split_blocks


def test_prose_and_fenced_code_alternate() -> None:
    text = "Intro\n\n```python\nx = 1\n\nprint(x)\n```  \nAfter\n~~~\nplain\n~~~"
    assert split_blocks(text) == [
        Block("prose", "Intro"),
        Block("code", "x = 1\n\nprint(x)", "python"),
        Block("prose", "After"),
        Block("code", "plain", ""),
    ]


def test_an_unclosed_fence_is_code_to_the_end_while_it_streams() -> None:
    assert split_blocks("See:\n```sh\nhearth models list") == [
        Block("prose", "See:"),
        Block("code", "hearth models list", "sh"),
    ]


def test_a_shorter_or_different_fence_does_not_close_the_block() -> None:
    text = "````md\n```python\ninner\n```\n````"
    assert split_blocks(text) == [Block("code", "```python\ninner\n```", "md")]


def test_a_reasoning_models_thoughts_come_first_as_their_own_block() -> None:
    assert split_blocks("<think>2 and 2.\nIt is 4.</think>\n\nFour.") == [
        Block("thoughts", "2 and 2.\nIt is 4."),
        Block("prose", "Four."),
    ]
    assert split_blocks("Opened by the template.</think>Four.") == [
        Block("thoughts", "Opened by the template."),
        Block("prose", "Four."),
    ]
    assert split_blocks("<think>Still going") == [Block("thoughts", "Still going", finished=False)]
