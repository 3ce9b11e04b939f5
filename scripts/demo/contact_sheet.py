"""A contact sheet: evenly spaced frames of the rendered sequence in one grid image."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, ImageDraw


def make_contact_sheet(
    frames: list[Path], out: Path, columns: int = 4, rows: int = 3, tile: int = 256
) -> Path:
    if not frames:
        raise ValueError("no frames to put on a contact sheet")
    count = min(len(frames), columns * rows)
    picks = [frames[round(i * (len(frames) - 1) / max(count - 1, 1))] for i in range(count)]
    sheet = Image.new("RGB", (columns * tile, rows * tile), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, path in enumerate(picks):
        with Image.open(path) as image:
            thumb = image.convert("RGBA")
            thumb.thumbnail((tile, tile))
        x, y = (i % columns) * tile, (i // columns) * tile
        background = Image.new("RGBA", thumb.size, (255, 255, 255, 255))
        sheet.paste(Image.alpha_composite(background, thumb).convert("RGB"), (x, y))
        draw.text((x + 6, y + 4), path.stem, fill=(40, 40, 40))
    tmp = out.with_suffix(".tmp.png")
    sheet.save(tmp)
    os.replace(tmp, out)
    return out


def make_preview_gif(frames: list[Path], out: Path, size: int = 192, count: int = 24, fps: int = 12) -> Path:
    """A small looping GIF of the sequence (every k-th frame) for READMEs and chat; kept under ~0.5 MB."""
    if not frames:
        raise ValueError("no frames to put in a preview")
    count = min(len(frames), count)
    picks = [frames[round(i * (len(frames) - 1) / max(count - 1, 1))] for i in range(count)]
    images = []
    for path in picks:
        with Image.open(path) as image:
            rgba = image.convert("RGBA")
        rgba.thumbnail((size, size))
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        # One adaptive palette per frame: faces need more than the web palette's skin tones.
        images.append(Image.alpha_composite(background, rgba).convert("RGB").quantize(colors=128))
    tmp = out.with_suffix(".tmp.gif")
    images[0].save(
        tmp, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0, optimize=True
    )
    os.replace(tmp, out)
    return out
