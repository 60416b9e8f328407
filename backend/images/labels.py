"""Zero-shot labels: which words best describe an image, as probabilities that sum to 1."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from backend.errors import InvalidRequestError
from backend.images.clip import ClipModel
from backend.wire import ImageLabel

# Prompt ensembling: each label is the mean of its embeddings in these sentences.
TEMPLATES = (
    "a photo of a {}.",
    "a picture of a {}.",
    "a drawing of a {}.",
    "an image of a {}.",
    "a close-up photo of the {}.",
    "an emoji of a {}.",
)


class NoLabelsError(InvalidRequestError, ValueError):
    """Nothing to choose from: no labels given and the model has no default vocabulary."""

    code = "no_labels"


def label_embeddings(model: ClipModel, labels: Sequence[str]) -> np.ndarray:
    """(L, D): each label's template embeddings averaged and renormalised."""
    prompts = [template.format(label) for label in labels for template in TEMPLATES]
    embedded = model.embed_texts(prompts).reshape(len(labels), len(TEMPLATES), -1).mean(axis=1)
    return embedded / np.linalg.norm(embedded, axis=-1, keepdims=True)


def label_image(
    model: ClipModel, image: Image.Image, labels: Sequence[str] = (), top: int = 5
) -> list[ImageLabel]:
    """The `top` most likely labels; probabilities are a softmax over all candidate labels."""
    candidates = [label.strip() for label in labels if label.strip()] or model.default_labels
    if not candidates:
        raise NoLabelsError("give labels to choose from; this model has no default vocabulary")
    if candidates == model.default_labels and model.default_label_embeddings is not None:
        texts = model.default_label_embeddings  # embedded once, at export
    else:
        texts = label_embeddings(model, candidates)
    logits = model.logit_scale * (model.embed_images([image]) @ texts.T)[0]
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    order = np.argsort(-probabilities)[:top]
    return [ImageLabel(label=candidates[i], score=float(probabilities[i])) for i in order]
