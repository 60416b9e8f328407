"""The names the embedder answers to over the API: its own and, as aliases, OpenAI's."""

from __future__ import annotations

from backend.embeddings.minilm import MODEL_NAME

# OpenAI's embedding models, so that tools whose default is one of them (LangChain's
# OpenAIEmbeddings, `llm embed -m 3-small`) work unchanged. Each is answered by MiniLM, and the
# response's `model` says so: the vectors are MiniLM's (384 numbers), not OpenAI's.
OPENAI_ALIASES = ("text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002")


def answers_to(name: str) -> bool:
    """Whether /v1/embeddings serves `name`: the embedder's own name or one of the aliases."""
    return name == MODEL_NAME or name in OPENAI_ALIASES
