"""Hearth's engine: llama.cpp chat, embeddings, documents and images behind a local API."""

__version__ = "0.1.0"
