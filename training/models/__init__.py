"""Decoder models Hearth trains from scratch: typed configs and their transformers modules."""
