"""hearth-smol: the fine-tuning data, built from documentation text, for Hearth's default model."""
