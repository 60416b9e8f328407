"""The local HTTP API: OpenAI-compatible routes plus Hearth's own under /hearth."""
