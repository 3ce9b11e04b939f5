"""A contact sheet and a preview GIF: evenly spaced frames of the rendered sequence."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, ImageDraw


def _evenly_spaced(frames: list[Path], count: int, what: str) -> list[Path]:
    """``count`` frames (fewer if there are fewer) from the first to the last, evenly spaced."""
    if not frames:
        raise ValueError(f"no frames to put in {what}")
    count = min(len(frames), count)
    return [frames[round(i * (len(frames) - 1) / max(count - 1, 1))] for i in range(count)]


def _thumbnail_on_white(path: Path, size: int) -> Image.Image:
    """The frame shrunk to fit ``size`` x ``size``, its transparency composited on white (RGB)."""
    with Image.open(path) as image:
        rgba = image.convert("RGBA")
    rgba.thumbnail((size, size))
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def make_contact_sheet(
    frames: list[Path], out: Path, columns: int = 4, rows: int = 3, tile: int = 256
) -> Path:
    picks = _evenly_spaced(frames, columns * rows, "a contact sheet")
    sheet = Image.new("RGB", (columns * tile, rows * tile), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, path in enumerate(picks):
        x, y = (i % columns) * tile, (i // columns) * tile
        sheet.paste(_thumbnail_on_white(path, tile), (x, y))
        draw.text((x + 6, y + 4), path.stem, fill=(40, 40, 40))
    tmp = out.with_suffix(".tmp.png")
    sheet.save(tmp)
    os.replace(tmp, out)
    return out


def make_preview_gif(frames: list[Path], out: Path, size: int = 192, count: int = 24, fps: int = 12) -> Path:
    """A small looping GIF of the sequence (every k-th frame) for READMEs and chat; kept under ~0.5 MB."""
    picks = _evenly_spaced(frames, count, "a preview")
    # One adaptive palette per frame: faces need more than the web palette's skin tones.
    images = [_thumbnail_on_white(path, size).quantize(colors=128) for path in picks]
    tmp = out.with_suffix(".tmp.gif")
    images[0].save(
        tmp, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0, optimize=True
    )
    os.replace(tmp, out)
    return out
