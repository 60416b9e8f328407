"""Text embeddings: all-MiniLM-L6-v2 through ONNX Runtime, from files installed by pip."""
