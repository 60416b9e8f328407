"""Style-removing augmentations: each keeps the picture's size and changes it as it says."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from training.clip.style_aug import (
    OPAQUE,
    TRANSFORMS,
    augment_style,
    greyscale,
    line_art,
    outline,
    quantise,
    random_palette,
    stroke_width,
)


@pytest.fixture
def icon() -> Image.Image:
    """A shaded, multi-coloured object on a transparent background, as icons are."""
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for step in range(20):  # a radial shading: many colours
        inset = 8 + step
        draw.ellipse(
            (inset, inset, 63 - inset, 63 - inset), fill=(200 - 8 * step, 40 + 9 * step, 90)
        )
    draw.rectangle((26, 4, 38, 20), fill=(20, 20, 220), outline=(0, 0, 0), width=2)
    return image


def _opaque(image: Image.Image) -> np.ndarray:
    mask: np.ndarray = np.asarray(image.getchannel("A")) >= OPAQUE
    return mask


def _colours(image: Image.Image) -> int:
    pixels = np.asarray(image.convert("RGBA"))[_opaque(image)][:, :3]
    return len(np.unique(pixels, axis=0))


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_every_transform_keeps_the_size_and_changes_the_picture(
    name: str, icon: Image.Image
) -> None:
    result = TRANSFORMS[name](icon, random.Random(1))
    assert result.size == icon.size and result.mode == "RGBA"
    assert not np.array_equal(np.asarray(result), np.asarray(icon))


def test_greyscale_has_equal_channels_and_keeps_the_silhouette(icon: Image.Image) -> None:
    pixels = np.asarray(greyscale(icon, random.Random(0)))
    assert np.array_equal(pixels[..., 0], pixels[..., 1])
    assert np.array_equal(pixels[..., 1], pixels[..., 2])
    assert np.array_equal(pixels[..., 3], np.asarray(icon)[..., 3])


@pytest.mark.parametrize("colours", [2, 3, 5])
def test_quantised_has_at_most_k_flat_colours(colours: int, icon: Image.Image) -> None:
    assert _colours(icon) > 10
    assert _colours(quantise(icon, random.Random(0), colours)) <= colours


def test_random_palette_recolours_the_same_regions(icon: Image.Image) -> None:
    rng_state = random.Random(3)
    flat = np.asarray(quantise(icon, random.Random(3)))
    recoloured = np.asarray(random_palette(icon, rng_state))
    inside = _opaque(icon)
    # Pixels that shared a flat colour still share one, and the colours themselves changed.
    flat_ids = np.unique(flat[inside][:, :3], axis=0, return_inverse=True)[1].reshape(-1)
    new_ids = np.unique(recoloured[inside][:, :3], axis=0, return_inverse=True)[1].reshape(-1)
    for region in np.unique(flat_ids):
        assert len(np.unique(new_ids[flat_ids == region])) == 1
    assert not np.array_equal(flat[inside], recoloured[inside])


def test_line_art_is_mostly_background_in_one_line_colour(icon: Image.Image) -> None:
    lines = line_art(icon, random.Random(0))
    drawn = _opaque(lines)
    assert 0.02 < drawn.mean() < 0.5 * _opaque(icon).mean()
    assert _colours(lines) == 1


def test_outline_lies_on_the_silhouette_edge(icon: Image.Image) -> None:
    contour = _opaque(outline(icon, random.Random(0)))
    inside = _opaque(icon)
    assert contour.any() and not (contour & ~inside).any()  # on the object
    assert contour.sum() < 0.4 * inside.sum()  # only its border
    assert not contour[32, 32]  # the centre is empty


def test_stroke_width_grows_or_shrinks_the_object(icon: Image.Image) -> None:
    area = _opaque(icon).sum()
    assert _opaque(stroke_width(icon, random.Random(0), thicker=True)).sum() > area
    assert _opaque(stroke_width(icon, random.Random(0), thicker=False)).sum() < area


def test_augment_style_applies_nothing_at_zero_and_something_at_one(icon: Image.Image) -> None:
    assert augment_style(icon, random.Random(0), 0.0) is icon
    changed = augment_style(icon, random.Random(0), 1.0)
    assert changed.size == icon.size and changed.getbbox() is not None
    assert not np.array_equal(np.asarray(changed), np.asarray(icon))
