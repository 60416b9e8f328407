"""The loop detector ends a reply stuck in a cycle, and lets ordinary text through."""

from __future__ import annotations

import random

import pytest

from backend.llm.loop_detector import MAX_PERIOD, MIN_REPEATS, MIN_SPAN, LoopDetector


def first_alarm(tokens: list[int]) -> int | None:
    """The position of the token at which the detector says "loop", if any."""
    detector = LoopDetector()
    return next((i for i, token in enumerate(tokens) if detector.push(token)), None)


@pytest.mark.parametrize("period", [1, 2, 3, 7, 20, MAX_PERIOD])
def test_a_cycle_of_any_period_up_to_the_maximum_is_caught(period: int) -> None:
    rng = random.Random(period)
    preamble = [rng.randrange(1000, 2000) for _ in range(80)]  # never repeats
    cycle = list(range(period))
    alarm = first_alarm(preamble + cycle * 400)
    assert alarm is not None
    # Caught once the cycle covers the span and repeats enough: not before, and not long after.
    looped = alarm - len(preamble) + 1
    assert looped == max(MIN_SPAN, MIN_REPEATS * period)


def test_a_longer_cycle_than_the_maximum_is_not_a_loop() -> None:
    cycle = list(range(MAX_PERIOD + 1))
    assert first_alarm(cycle * 6) is None


def test_text_without_repetition_passes() -> None:
    rng = random.Random(7)
    assert first_alarm([rng.randrange(32000) for _ in range(5000)]) is None


def test_a_list_with_a_repeated_prefix_passes() -> None:
    # "- Item 1: the note\n- Item 2: the note\n..." as token ids: the same prefix and suffix on
    # every line, but the number changes, so no period holds for long.
    dash, item, colon, the, note, newline = 10, 11, 12, 13, 14, 15
    lines = [[dash, item, 100 + n, colon, the, note, newline] for n in range(200)]
    assert first_alarm([token for line in lines for token in line]) is None


def test_a_short_repetition_in_passing_is_not_a_loop() -> None:
    # "ha ha ha", or a word said three times, then the reply goes on.
    rng = random.Random(3)
    text = [rng.randrange(1000, 2000) for _ in range(50)] + [5, 6] * 10
    text += [rng.randrange(1000, 2000) for _ in range(500)]
    assert first_alarm(text) is None
