"""Hearth's model-building pipeline: tokenizers, decoders, training and GGUF/ONNX export."""
