"""CLIP models for Hearth's images: open_clip definitions, a `tokenizers` BPE, ONNX export."""
