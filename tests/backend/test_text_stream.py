"""Streaming text out of token bytes: split characters and stop strings."""

from backend.llm.text_stream import TextStream


def test_split_utf8_character_waits_for_its_last_byte() -> None:
    stream = TextStream()
    snowman = "☃".encode()
    assert stream.push(b"a" + snowman[:1]) == "a"
    assert stream.push(snowman[1:2]) == ""
    assert stream.push(snowman[2:]) == "☃"


def test_stop_string_is_cut_even_across_tokens() -> None:
    stream = TextStream(stops=["\nUser:"])
    assert stream.push(b"Hello") == "Hello"
    assert stream.push(b"\nUs") == ""  # might be the stop string: held back
    assert stream.push(b"er: more") == ""
    assert stream.stopped
    assert stream.flush() == ""


def test_held_back_text_is_released_when_it_is_not_a_stop() -> None:
    stream = TextStream(stops=["STOP"])
    assert stream.push(b"ST") == ""
    assert stream.push(b"AR") == "STAR"
    assert stream.push(b"S") == ""
    assert stream.flush() == "S"
    assert not stream.stopped
