"""Images: safe decoding, the CLIP runtime (ONNX), zero-shot labels and image search."""
