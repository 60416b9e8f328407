"""Draws Hearth's icon as SVG and as PNGs of the usual sizes, from one set of shapes."""

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 512
BACKGROUND = "#3b2a20"
OUTER_FLAME = [
    (256, 70),
    (340, 190),
    (372, 300),
    (344, 392),
    (256, 440),
    (168, 392),
    (140, 300),
    (172, 190),
]
INNER_FLAME = [
    (256, 210),
    (300, 290),
    (310, 350),
    (284, 400),
    (256, 412),
    (228, 400),
    (202, 350),
    (212, 290),
]
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def svg() -> str:
    def polygon(points: list[tuple[int, int]], colour: str) -> str:
        return f'<polygon points="{" ".join(f"{x},{y}" for x, y in points)}" fill="{colour}"/>'

    return (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {SIZE} {SIZE}" width="{SIZE}" height="{SIZE}">'
        f'<rect width="{SIZE}" height="{SIZE}" rx="96" fill="{BACKGROUND}"/>'
        f"{polygon(OUTER_FLAME, '#f08a24')}{polygon(INNER_FLAME, '#ffd35c')}</svg>\n"
    )


def png(size: int) -> Image.Image:
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, SIZE - 1, SIZE - 1), radius=96, fill=BACKGROUND)
    draw.polygon(OUTER_FLAME, fill="#f08a24")
    draw.polygon(INNER_FLAME, fill="#ffd35c")
    return image.resize((size, size), Image.Resampling.LANCZOS)


if __name__ == "__main__":
    folder = Path(__file__).parent / "icons"
    folder.mkdir(exist_ok=True)
    (folder / "hearth.svg").write_text(svg(), encoding="utf-8")
    for size in PNG_SIZES:
        png(size).save(folder / f"hearth-{size}.png")
