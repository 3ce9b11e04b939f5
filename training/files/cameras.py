"""Cameras given to the trainer as JSON (``render --camera``, ``track --calibration``):
``{"cameras": [{"id"?, "K": 3x3, "world_to_camera": 4x4, "width", "height", "dist"?}]}`` (or a
list, or one camera), OpenCV axes, pixel centres at integers; read through core/untrusted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.untrusted import arrays as checked
from core.untrusted.errors import InputError
from training.errors import DatasetError


def read_json_input(p: Path, what: str) -> Any:
    """A JSON file given on the command line: a regular file, bounded size and depth."""
    from core.untrusted import json_text

    try:
        return json_text.load_file(p, max_bytes=64 << 20)
    except InputError as exc:
        raise DatasetError(f"{p}: not a readable {what} (it {exc.problem})") from None


def read_cameras(path: str) -> list[dict[str, Any]]:
    p = Path(path)
    data = read_json_input(p, "camera .json")
    cams = data.get("cameras", data) if isinstance(data, dict) else data
    if isinstance(cams, dict):
        cams = [cams]
    if not isinstance(cams, list):
        raise DatasetError(f"{p}: expected a list of cameras")
    out = []
    for i, cam in enumerate(cams):
        try:
            if not isinstance(cam, dict):
                raise InputError("is not an object")
            k = checked.float_array(cam["K"], "K", limit=1e9).reshape(3, 3)
            w2c = checked.float_array(cam["world_to_camera"], "world_to_camera", limit=1e9).reshape(4, 4)
            width = checked.integer(cam["width"], "width", low=1, high=1 << 16)
            height = checked.integer(cam["height"], "height", low=1, high=1 << 16)
        except (KeyError, ValueError) as exc:
            why = exc.problem if isinstance(exc, InputError) else "a value is missing or of the wrong size"
            raise DatasetError(
                f"{p}: camera {i} needs K (3x3), world_to_camera (4x4), width and height ({why})"
            ) from None
        if width <= 0 or height <= 0 or k[0, 0] <= 0 or k[1, 1] <= 0:
            raise DatasetError(f"{p}: camera {i} has a non-positive size or focal length")
        entry: dict[str, Any] = {"K": k, "world_to_camera": w2c, "width": width, "height": height}
        entry["id"] = str(cam["id"]) if "id" in cam else None
        if cam.get("dist"):  # OpenCV distortion coefficients (the tracker undistorts with them)
            entry["dist"] = checked.float_array(cam["dist"], "dist", limit=1e9).reshape(-1)
        out.append(entry)
    if not out:
        raise DatasetError(f"{p}: no cameras")
    return out
