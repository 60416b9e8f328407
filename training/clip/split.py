"""The cross-style split of a multi-style dataset: what trains, and three things it is tested on.

- held-out style: every picture of one whole style (an icon theme) is kept out of training; it
  is tested on the concepts that training saw in other styles.
- held-out images: in the icon styles that do train, a share of the pictures is kept out; their
  concepts still train through other pictures. (An emoji or a clip-art title has one picture, so
  keeping it out keeps its concept out: that is the next set.)
- unseen concepts: a share of concepts never trains in any style, nor enters the tokenizer.

Shares are chosen by hashing names, so the split is the same on every run and machine. The
concept hash is the one the first generation held emoji out with (training.clip.train), so its
held-out emoji are unseen concepts here too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from training.clip.data import Example

NOT_ICONS = {"emoji", "clipart"}


def hash_percent(text: str) -> int:
    """A stable number in 0..99 for `text`."""
    return hashlib.sha256(text.encode()).digest()[0] * 100 // 256


@dataclass(frozen=True)
class StyleSplit:
    train: list[Example]
    held_out_style: list[Example]
    held_out_images: list[Example]
    unseen_concepts: list[Example]

    def test_sets(self) -> dict[str, list[Example]]:
        return {
            "held-out style": self.held_out_style,
            "seen styles, held-out images": self.held_out_images,
            "unseen concepts, seen styles": self.unseen_concepts,
        }


def split_styles(
    examples: Sequence[Example], held_style: str, concept_percent: int = 10, image_percent: int = 15
) -> StyleSplit:
    if held_style not in {e.source for e in examples}:
        raise ValueError(f"the dataset has no style named {held_style!r}")
    unseen = {e.concept for e in examples if hash_percent(e.concept) < concept_percent}
    seen_styles = [e for e in examples if e.source != held_style]
    unseen_examples = [e for e in seen_styles if e.concept in unseen]
    candidates = [e for e in seen_styles if e.concept not in unseen]
    held_images = [
        e
        for e in candidates
        if e.source not in NOT_ICONS and hash_percent(f"{e.source}/{e.image}") < image_percent
    ]
    held_paths = {e.image for e in held_images}
    train = [e for e in candidates if e.image not in held_paths]
    trained = {e.concept for e in train}
    return StyleSplit(
        train=train,
        held_out_style=[e for e in examples if e.source == held_style and e.concept in trained],
        held_out_images=[e for e in held_images if e.concept in trained],
        unseen_concepts=unseen_examples,
    )
