"""Image access for dataset frames.

``image_size`` reads only the file header (pure Python: it works inside Blender, whose Python has
no PIL). Decoding pixels (``load_image``, ``load_mask``) needs Pillow and is meant for the trainer
and tests; Blender shows dataset images through its own image loader.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..untrusted.errors import DAMAGED, InputError, describe
from ..untrusted.files import GIB, open_regular
from .errors import DatasetError

MAX_IMAGE_BYTES = 2 * GIB
# PIL raises SyntaxError for some damaged headers, besides the usual damaged-file errors.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (*DAMAGED, SyntaxError)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


MAX_IMAGE_SIDE = 1 << 16


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) from a PNG or JPEG header, each from 1 to 65536; DatasetError when the file
    is not one or its header gives another size."""
    width, height = _header_size(path)
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
        raise DatasetError(
            path, f"has an image size of {width}x{height} in its header, which is not plausible"
        )
    return width, height


def _header_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    p = Path(path)
    try:
        with open_regular(p, MAX_IMAGE_BYTES) as f:
            head = f.read(32)
            if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
                width, height = struct.unpack(">II", head[16:24])
                return int(width), int(height)
            if head.startswith(b"\xff\xd8"):
                f.seek(2)
                return _jpeg_size(f, p)
    except InputError as exc:
        raise DatasetError(p, exc.problem) from None
    except (OSError, struct.error) as exc:
        raise DatasetError(p, f"cannot read the image ({describe(exc)})") from None
    raise DatasetError(p, "is not a PNG or JPEG image")


def png_has_alpha(path: str | os.PathLike[str]) -> bool:
    """True for PNGs whose colour type carries alpha (RGBA or grey + alpha)."""
    try:
        with open_regular(path, MAX_IMAGE_BYTES) as f:
            head = f.read(26)
    except (OSError, InputError):
        return False
    return head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) == 26 and head[25] in (4, 6)


_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(f: Any, path: Path) -> tuple[int, int]:
    while True:
        byte = f.read(1)
        while byte and byte != b"\xff":
            byte = f.read(1)
        while byte == b"\xff":
            byte = f.read(1)
        if not byte:
            raise DatasetError(path, "is a truncated JPEG (no frame header)")
        marker = byte[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        length_bytes = f.read(2)
        if len(length_bytes) < 2:
            raise DatasetError(path, "is a truncated JPEG")
        (length,) = struct.unpack(">H", length_bytes)
        if marker in _SOF_MARKERS:
            data = f.read(5)
            if len(data) < 5:
                raise DatasetError(path, "is a truncated JPEG")
            height, width = struct.unpack(">HH", data[1:5])
            return int(width), int(height)
        f.seek(length - 2, os.SEEK_CUR)


def _open_pil(path: str | os.PathLike[str]) -> Any:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Blender's Python
        raise DatasetError(path, "decoding images needs Pillow, which this Python lacks") from None
    if not Path(path).exists():
        raise DatasetError(path, "image file is missing")
    try:
        with open_regular(path, MAX_IMAGE_BYTES) as handle:
            img = Image.open(handle)
            img.load()
    except InputError as exc:
        raise DatasetError(path, exc.problem) from None
    except Image.DecompressionBombError:
        limit = Image.MAX_IMAGE_PIXELS or 0
        raise DatasetError(
            path, f"is an image of more than {2 * limit} pixels, too large to decode"
        ) from None
    except _DECODE_ERRORS as exc:
        raise DatasetError(path, f"cannot decode the image ({describe(exc)})") from None
    return img


def load_rgba(path: str | os.PathLike[str]) -> np.ndarray:
    """(H,W,4) float32 in [0,1]; alpha is 1 where the file has none."""
    img = _open_pil(path)
    arr = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
    return arr


def load_image(
    path: str | os.PathLike[str], background: tuple[float, float, float] | None = None
) -> np.ndarray:
    """(H,W,3) float32 sRGB in [0,1]. Files with alpha are composited over ``background``
    (default black, as the readers of these datasets do) unless the file has no alpha."""
    img = _open_pil(path)
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        bg = np.asarray(background if background is not None else (0.0, 0.0, 0.0), dtype=np.float32)
        alpha = rgba[..., 3:4]
        return rgba[..., :3] * alpha + bg * (1.0 - alpha)
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def load_mask(path: str | os.PathLike[str]) -> np.ndarray:
    """(H,W) float32 foreground weight in [0,1]: the alpha channel where there is one, else the
    grey value (masks saved as RGB JPEGs use the first channel)."""
    img = _open_pil(path)
    if img.mode in ("RGBA", "LA"):
        return np.asarray(img.getchannel("A"), dtype=np.float32) / 255.0
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float32)
        return np.clip(arr / (65535.0 if arr.max() > 255 else 255.0), 0.0, 1.0)
    if img.mode == "F":
        return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
    if img.mode == "1":
        return np.asarray(img, dtype=np.float32)
    if img.mode != "L":
        img = img.convert("RGB").getchannel("R")
    return np.asarray(img, dtype=np.float32) / 255.0
