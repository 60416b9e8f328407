"""Converting a user's open_clip checkpoint into Hearth's runtime format (ONNX towers).

The text side gets open_clip's CLIP BPE rewritten as a `tokenizers` JSON, so the runtime
tokenizes identically without open_clip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from training.clip.export import export_clip

CLIP_SPLIT = (
    r"""<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
)


class UnsupportedClipError(ValueError):
    """This open_clip model cannot be converted (its tokenizer or transform is not supported)."""


def clip_bpe_as_tokenizers(simple: Any, context_length: int) -> Tokenizer:
    """open_clip's SimpleTokenizer (CLIP's BPE) as an equivalent `tokenizers` Tokenizer."""
    merges = sorted(simple.bpe_ranks, key=simple.bpe_ranks.get)
    bpe = models.BPE(vocab=dict(simple.encoder), merges=merges, end_of_word_suffix="</w>")
    tokenizer = Tokenizer(bpe)
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.NFC(),
            normalizers.Replace(Regex(r"\s+"), " "),
            normalizers.Strip(),
            normalizers.Lowercase(),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(CLIP_SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    start, end = simple.sot_token_id, simple.eot_token_id
    tokenizer.add_special_tokens(["<start_of_text>", "<end_of_text>"])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<start_of_text> $A <end_of_text>",
        special_tokens=[("<start_of_text>", start), ("<end_of_text>", end)],
    )
    tokenizer.enable_truncation(max_length=context_length)
    tokenizer.enable_padding(length=context_length, pad_id=0, pad_token="<start_of_text>")
    return tokenizer


def import_checkpoint(arch: str, checkpoint: Path, out_dir: Path, name: str) -> Path:
    """Load `arch` (an open_clip name, or a model-config JSON file) with `checkpoint`; export."""
    import open_clip
    from open_clip.tokenizer import SimpleTokenizer

    if arch.endswith(".json"):
        open_clip.add_model_config(Path(arch))
        arch = Path(arch).stem
    if arch not in open_clip.list_models():
        raise UnsupportedClipError(f"unknown open_clip architecture '{arch}'")
    model, _, _ = open_clip.create_model_and_transforms(arch, pretrained=str(checkpoint))
    simple = open_clip.get_tokenizer(arch)
    if not isinstance(simple, SimpleTokenizer):
        raise UnsupportedClipError(f"'{arch}' uses a tokenizer other than CLIP's BPE")
    preprocess = model.visual.preprocess_cfg
    size = preprocess["size"]
    if isinstance(size, (tuple, list)):
        if size[0] != size[1]:
            raise UnsupportedClipError(f"'{arch}' has a non-square input {size}")
        size = size[0]
    if preprocess.get("resize_mode", "shortest") not in ("shortest", "squash"):
        raise UnsupportedClipError(f"'{arch}' resizes with '{preprocess['resize_mode']}'")
    return export_clip(
        model,
        clip_bpe_as_tokenizers(simple, int(model.context_length)),
        out_dir,
        name=name,
        image_size=int(size),
        mean=preprocess["mean"],
        std=preprocess["std"],
        resize_mode=preprocess.get("resize_mode", "shortest"),
    )
