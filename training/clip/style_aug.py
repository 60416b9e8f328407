"""Augmentations that take a picture's drawing style away and leave its concept.

Each transform takes and returns an RGBA image of the same size (the object on a transparent
background, before training pastes it on a background): greyscale, flat-colour quantisation,
edge-only line art, outline of the silhouette, thicker or thinner strokes, a random palette.
`augment_style` applies each with its own probability, in a random order.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

OPAQUE = 128  # alpha at or above which a pixel belongs to the object


def _split(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    rgba = image.convert("RGBA")
    return rgba.convert("RGB"), rgba.getchannel("A")


def _random_colour(rng: random.Random, dark: bool = False) -> tuple[int, int, int]:
    top = 110 if dark else 256
    return (rng.randrange(top), rng.randrange(top), rng.randrange(top))


def greyscale(image: Image.Image, rng: random.Random) -> Image.Image:
    rgb, alpha = _split(image)
    grey = rgb.convert("L").convert("RGB")
    grey.putalpha(alpha)
    return grey


def quantise(image: Image.Image, rng: random.Random, colours: int | None = None) -> Image.Image:
    """Flat colours: at most `colours` (2 to 6 when not given) over the object."""
    rgb, alpha = _split(image)
    count = colours or rng.randint(2, 6)
    flat = rgb.quantize(count, method=Image.Quantize.MEDIANCUT).convert("RGB")
    flat.putalpha(alpha.point(lambda a: 255 if a >= OPAQUE else 0))
    return flat


def random_palette(image: Image.Image, rng: random.Random) -> Image.Image:
    """Flat colours, each replaced by a random one: same regions, another colouring."""
    flat = quantise(image, rng)
    pixels = np.array(flat)
    colours, inverse = np.unique(pixels[..., :3].reshape(-1, 3), axis=0, return_inverse=True)
    palette = np.array([_random_colour(rng) for _ in colours], np.uint8)
    pixels[..., :3] = palette[inverse.reshape(-1)].reshape(pixels.shape[:2] + (3,))
    return Image.fromarray(pixels, "RGBA")


def _edges(image: Image.Image) -> np.ndarray:
    """Where luminance or the silhouette changes sharply: a boolean (H, W) mask."""
    rgb, alpha = _split(image)
    grey = Image.composite(rgb.convert("L"), Image.new("L", image.size, 255), alpha)
    luminance = np.asarray(grey.filter(ImageFilter.FIND_EDGES)) > 48
    silhouette = np.asarray(alpha.filter(ImageFilter.FIND_EDGES)) > 96
    edges: np.ndarray = luminance | silhouette
    edges[[0, -1], :] = False  # FIND_EDGES marks the image border itself
    edges[:, [0, -1]] = False
    return edges


def _lines(mask: np.ndarray, colour: tuple[int, int, int]) -> Image.Image:
    pixels = np.zeros(mask.shape + (4,), np.uint8)
    pixels[mask] = (*colour, 255)
    return Image.fromarray(pixels, "RGBA")


def line_art(image: Image.Image, rng: random.Random) -> Image.Image:
    """Only the edges, as dark lines; everything else transparent."""
    return _lines(_edges(image), _random_colour(rng, dark=True))


def outline(image: Image.Image, rng: random.Random) -> Image.Image:
    """The silhouette's contour in one colour: no inner detail, no fill."""
    alpha = image.convert("RGBA").getchannel("A").point(lambda a: 255 if a >= OPAQUE else 0)
    inside = np.asarray(alpha) > 0
    eroded = np.asarray(alpha.filter(ImageFilter.MinFilter(3))) > 0
    return _lines(inside & ~eroded, _random_colour(rng, dark=True))


def stroke_width(
    image: Image.Image, rng: random.Random, thicker: bool | None = None
) -> Image.Image:
    """Dark strokes and the silhouette grown (or shrunk) by a pixel."""
    rgb, alpha = _split(image)
    grow = rng.random() < 0.5 if thicker is None else thicker
    colour_filter = ImageFilter.MinFilter(3) if grow else ImageFilter.MaxFilter(3)
    alpha_filter = ImageFilter.MaxFilter(3) if grow else ImageFilter.MinFilter(3)
    result = rgb.filter(colour_filter)
    result.putalpha(alpha.filter(alpha_filter))
    return result


Transform = Callable[[Image.Image, random.Random], Image.Image]
TRANSFORMS: dict[str, Transform] = {
    "greyscale": greyscale,
    "quantise": quantise,
    "line_art": line_art,
    "outline": outline,
    "stroke_width": stroke_width,
    "random_palette": random_palette,
}


def augment_style(image: Image.Image, rng: random.Random, probability: float) -> Image.Image:
    """Each transform with `probability`, in a random order (line art after a palette change
    still draws lines; a palette change after line art recolours them). With probability 0 the
    random stream is left untouched, so a recipe without them trains exactly as before."""
    if probability <= 0:
        return image
    names = list(TRANSFORMS)
    rng.shuffle(names)
    for name in names:
        if rng.random() < probability:
            changed = TRANSFORMS[name](image, rng)
            if changed.getbbox() is not None:  # an outline of a hairline can vanish
                image = changed
    return image
