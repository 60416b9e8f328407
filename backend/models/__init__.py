"""Knowing which models exist, what is inside each GGUF, and whether it fits in memory."""
