"""Language-model runtimes: llama.cpp in process, or a remote OpenAI-compatible server."""
