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
