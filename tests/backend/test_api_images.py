"""Images in the OpenAI API: web addresses refused (Hearth is offline), and images in earlier
turns kept as their CLIP labels, for a vision model too, and reported as such."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from backend.chat.turn import Question, prepare_api_turn, prepare_turn
from backend.llm.types import SamplingParams
from backend.server.services import Services
from tests.backend.conftest import InProcessRealBackend, TinyClip, prepare_home, serve_real
from tests.backend.fakes import FakeProvider, open_services
from tests.backend.test_images_api import data_url, png_bytes
from tests.backend.test_vision_api import IMAGE_TOKENS
from training.testing import build_tiny_mmproj

REMOTE = "https://example.com/cat.png"  # never fetched: the request is refused before


@pytest.fixture(scope="module")
def backend(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, tiny_clip: TinyClip
) -> Iterator[InProcessRealBackend]:
    layout = prepare_home(tmp_path_factory.mktemp("home"), tiny_gguf, image_model=tiny_clip.name)
    shutil.copy(tiny_gguf, layout.models / "seer.gguf")
    build_tiny_mmproj(layout.models / "seer-mmproj-f32.gguf")
    tiny_clip.install(layout.root)
    running = serve_real(layout)
    yield running
    running.stop()


def picture(colour: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": data_url(png_bytes(colour))}}


def text(words: str) -> dict[str, Any]:
    return {"type": "text", "text": words}


def conversation(earlier: list[dict[str, Any]], last: list[dict[str, Any]]) -> list[Any]:
    """A user turn with `earlier` parts, the assistant's answer, and a last turn of `last`."""
    return [
        {"role": "system", "content": "You are Hearth."},
        {"role": "user", "content": [text("What is this?"), *earlier]},
        {"role": "assistant", "content": "A square of one colour."},
        {"role": "user", "content": [text("And which colour was it?"), *last]},
    ]


def ask(backend: InProcessRealBackend, model: str, messages: list[Any]) -> Any:
    return backend.openai().chat.completions.create(
        model=model, messages=messages, max_tokens=4, temperature=0.0, seed=3
    )


def test_a_remote_image_url_is_refused_naming_its_place(backend: InProcessRealBackend) -> None:
    remote = {"type": "image_url", "image_url": {"url": REMOTE}}
    with pytest.raises(openai.BadRequestError, match="data URL") as caught:
        ask(backend, "tiny", conversation([], [remote]))
    assert caught.value.code == "remote_image_url"
    assert caught.value.param == "messages[3].content[1].image_url"  # type: ignore[attr-defined]
    assert "offline" in caught.value.message and "not fetched" in caught.value.message
    with pytest.raises(openai.BadRequestError) as earlier:  # an earlier turn's too
        ask(backend, "tiny", conversation([remote], []))
    assert earlier.value.param == "messages[1].content[1].image_url"  # type: ignore[attr-defined]
    with backend.http() as http:
        body = {"messages": [{"role": "user", "content": "Hi"}], "images": ["http://x/a.png"]}
        extension = http.post("/v1/chat/completions", json=body).json()["error"]
        cid = http.post("/hearth/conversations", json={}).json()["id"]
        asked = http.post(
            f"/hearth/conversations/{cid}/messages",
            json={"content": "What is it?", "images": [REMOTE], "stream": False},
        )
    assert extension["code"] == "remote_image_url" and extension["param"] == "images[0]"
    assert asked.status_code == 400 and asked.json()["error"]["code"] == "remote_image_url"


def test_parts_hearth_would_drop_are_refused_naming_them(backend: InProcessRealBackend) -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    cases = (
        ([text("Listen"), audio], "messages[0].content[1].type", "input_audio"),
        ([text("Look"), {"type": "image_url"}], "messages[0].content[1].image_url", "needs"),
    )
    with backend.http() as http:
        for content, param, said in cases:
            body = {"messages": [{"role": "user", "content": content}], "max_tokens": 2}
            response = http.post("/v1/chat/completions", json=body)
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["code"] == "unsupported_content_part" and error["param"] == param
            assert said in error["message"]
    detailed = picture("red")
    detailed["image_url"]["detail"] = "low"  # accepted: one resolution serves every detail
    reply = ask(backend, "tiny", [{"role": "user", "content": [text("What is it?"), detailed]}])
    assert len(reply.model_extra["hearth"]["attachments"]) == 1


def test_an_earlier_turns_image_reaches_a_text_model_as_labels(
    backend: InProcessRealBackend,
) -> None:
    with_image = ask(backend, "tiny", conversation([picture("red")], []))
    without = ask(backend, "tiny", conversation([], []))
    hearth = with_image.model_extra["hearth"]
    (earlier,) = hearth["earlier_attachments"]
    assert len(earlier["labels"]) == 5
    assert "attachments" not in hearth and "vision" not in hearth  # the last turn had none
    # Its labels with their scores, a few dozen tokens, are in that turn's text.
    assert with_image.usage.prompt_tokens > without.usage.prompt_tokens + 40
    assert "earlier_attachments" not in without.model_extra["hearth"]


def test_a_vision_model_sees_the_last_turns_pixels_and_earlier_labels(
    backend: InProcessRealBackend,
) -> None:
    both = ask(backend, "seer", conversation([picture("red")], [picture("blue")]))
    earlier_only = ask(backend, "seer", conversation([picture("red")], []))
    last_only = ask(backend, "seer", conversation([], [picture("blue")]))
    hearth = both.model_extra["hearth"]
    assert hearth["vision"] is True and len(hearth["attachments"]) == 1
    assert len(hearth["earlier_attachments"]) == 1
    # One image's worth of embeddings: the last turn's; the earlier one came as labels.
    pixels = both.usage.prompt_tokens - earlier_only.usage.prompt_tokens
    assert IMAGE_TOKENS < pixels < IMAGE_TOKENS + 4
    assert both.usage.prompt_tokens > last_only.usage.prompt_tokens + 40


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    opened = open_services(
        tmp_path / "home", FakeProvider(models=("tiny", "seer"), vision=("seer",))
    )
    yield opened
    opened.close()


def test_earlier_labels_go_into_their_own_turn(services: Services, tmp_path: Path) -> None:
    earlier, last = tmp_path / "earlier.png", tmp_path / "last.png"
    earlier.write_bytes(b"earlier pixels")
    last.write_bytes(b"last pixels")
    messages = [
        {"role": "user", "content": "What is this?"},
        {"role": "assistant", "content": "A cat."},
        {"role": "user", "content": "Is it asleep?"},
    ]
    turn = prepare_api_turn(
        services,
        "seer",
        messages,
        [str(last)],
        SamplingParams(),
        earlier_images=[[str(earlier)], []],
    )
    prompt = turn.request.messages
    assert "cat (80%)" in prompt[0]["content"] and prompt[0]["content"].endswith("What is this?")
    assert prompt[1] == messages[1] and prompt[2]["content"] == "Is it asleep?"
    assert turn.request.images == (b"last pixels",)  # only the last turn's are seen
    assert [a.path for a in turn.earlier_attachments] == [str(earlier)]
    assert [a.path for a in turn.attachments] == [str(last)]
    assert messages[0]["content"] == "What is this?", "the input is left alone"


def test_a_conversations_earlier_images_stay_as_labels(services: Services, tmp_path: Path) -> None:
    picture = tmp_path / "cat.png"
    picture.write_bytes(b"cat pixels")
    cid = services.store.create().id
    first = prepare_turn(services, cid, Question("What is this?", images=(str(picture),)))
    services.store.add_message(cid, "assistant", "A cat.")
    services.store.update_settings(cid, model="seer")
    follow_up = prepare_turn(services, cid, Question("Is it asleep?"))
    earlier, answer, question = follow_up.request.messages
    assert "cat (80%)" in earlier["content"] and earlier["content"].endswith("What is this?")
    assert answer["content"] == "A cat." and question["content"] == "Is it asleep?"
    assert follow_up.request.images == ()  # the earlier image is not seen again as pixels
    assert first.request.messages[-1]["content"].count("cat (80%)") == 1
