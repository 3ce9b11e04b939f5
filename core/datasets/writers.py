"""Writers for the two formats the built-in synthetic dataset uses: GaussianAvatars (head) and
AvatarReX (body). They take canonical OpenCV cameras and per-timestep parameters and lay out the
files so that the readers (and the original projects' loaders) read them back.

Image files are written by the caller (they come from a renderer); these functions write the
cameras, parameters, split files and the recipe, atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.plain_json import plain

from .camera import Camera, opencv_w2c_to_opengl_c2w
from .frames import Split
from .options import SPLITS_FILE, splits_json

RECIPE_FILE = "recipe.json"


@dataclass(frozen=True)
class FrameRecord:
    """One image of a dataset being written: paths relative to the dataset root."""

    camera_index: int
    timestep: int
    split: Split
    image: str
    mask: str | None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_savez(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    atomic_write_bytes(path, buffer.getvalue())


def write_recipe(root: Path, recipe: Mapping[str, Any]) -> None:
    atomic_write_text(root / RECIPE_FILE, json.dumps(recipe, indent=1, default=plain))


def _pad(vector: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size, dtype=np.float32)
    v = np.asarray(vector, dtype=np.float32).reshape(-1)[:size]
    out[: v.shape[0]] = v
    return out


# ----------------------------------------------------------------------------- GaussianAvatars


def flame_param_arrays(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One timestep in GaussianAvatars' flame_param layout (shape (300,), expr (1,100), ...)."""
    out = {
        "shape": _pad(params.get("shape", np.zeros(0)), 300),
        "expr": _pad(params.get("expr", np.zeros(0)), 100)[None],
    }
    sizes = (("rotation", 3), ("neck_pose", 3), ("jaw_pose", 3), ("eyes_pose", 6), ("translation", 3))
    for key, size in sizes:
        out[key] = _pad(params.get(key, np.zeros(size)), size)[None]
    if "static_offset" in params:
        out["static_offset"] = np.asarray(params["static_offset"], dtype=np.float32).reshape(1, -1, 3)
    return out


def write_gaussian_avatars(
    root: Path,
    cameras: Sequence[Camera],
    records: Sequence[FrameRecord],
    params: Mapping[int, Mapping[str, np.ndarray]],
    *,
    background: tuple[float, float, float] | None = None,
    recipe: Mapping[str, Any] | None = None,
) -> None:
    """transforms_{train,val,test}.json (OpenGL camera-to-world), flame_param/{t:05d}.npz and
    canonical_flame_param.npz. ``records`` name the image and mask files already written."""
    root.mkdir(parents=True, exist_ok=True)
    for t, p in params.items():
        atomic_savez(root / "flame_param" / f"{t:05d}.npz", flame_param_arrays(p))
    first = params[min(params)]
    canonical = {k: v for k, v in first.items() if k in ("shape", "static_offset")}
    atomic_savez(root / "canonical_flame_param.npz", flame_param_arrays(canonical))
    for split in ("train", "val", "test"):
        frames = []
        for rec in records:
            if rec.split != split:
                continue
            cam = cameras[rec.camera_index]
            entry: dict[str, Any] = {
                "timestep_index": rec.timestep,
                "timestep_index_original": rec.timestep,
                "timestep_id": f"frame_{rec.timestep:05d}",
                "camera_index": rec.camera_index,
                "camera_id": cam.camera_id,
                "cx": cam.cx,
                "cy": cam.cy,
                "fl_x": cam.fx,
                "fl_y": cam.fy,
                "h": cam.height,
                "w": cam.width,
                "camera_angle_x": 2.0 * float(np.arctan(cam.width / (2.0 * cam.fx))),
                "camera_angle_y": 2.0 * float(np.arctan(cam.height / (2.0 * cam.fy))),
                "transform_matrix": opencv_w2c_to_opengl_c2w(cam.world_to_camera).tolist(),
                "file_path": rec.image,
                "flame_param_path": f"flame_param/{rec.timestep:05d}.npz",
            }
            if rec.mask:
                entry["fg_mask_path"] = rec.mask
            frames.append(entry)
        top: dict[str, Any] = {
            "camera_indices": sorted({f["camera_index"] for f in frames}),
            "timestep_indices": sorted({f["timestep_index"] for f in frames}),
            "frames": frames,
        }
        if frames:
            ref = cameras[frames[0]["camera_index"]]
            top.update(cx=ref.cx, cy=ref.cy, fl_x=ref.fx, fl_y=ref.fy, h=ref.height, w=ref.width)
        if background is not None:
            top["background_color"] = list(background)
        if recipe is not None:
            top["synthetic_recipe"] = dict(recipe)
        atomic_write_text(root / f"transforms_{split}.json", json.dumps(top, indent=1, default=plain))
    if recipe is not None:
        write_recipe(root, recipe)


# ----------------------------------------------------------------------------- AvatarReX


def avatarrex_image_path(camera_id: str, timestep: int) -> str:
    return f"{camera_id}/{timestep:08d}.jpg"


def avatarrex_mask_path(camera_id: str, timestep: int, suffix: str = ".jpg") -> str:
    return f"{camera_id}/mask/pha/{timestep:08d}{suffix}"


SMPLX_SIZES = {
    "global_orient": 3, "transl": 3, "body_pose": 63, "jaw_pose": 3, "leye_pose": 3, "reye_pose": 3,
    "left_hand_pose": 45, "right_hand_pose": 45,
}  # fmt: skip


def smpl_params_arrays(params: Mapping[int, Mapping[str, np.ndarray]], num_expression: int = 10) -> dict:
    """Timesteps 0..T-1 stacked as smpl_params.npz (betas (1,B), the rest (T, n))."""
    steps = sorted(params)
    if steps != list(range(len(steps))):
        raise ValueError("smpl_params.npz needs parameters for every timestep 0..T-1")
    first = params[steps[0]]
    out: dict[str, np.ndarray] = {"betas": np.asarray(first["betas"], dtype=np.float32).reshape(1, -1)}
    for key, size in SMPLX_SIZES.items():
        out[key] = np.stack([_pad(params[t].get(key, np.zeros(size)), size) for t in steps])
    expressions = [_pad(params[t].get("expression", np.zeros(0)), num_expression) for t in steps]
    out["expression"] = np.stack(expressions)
    return out


def write_avatarrex(
    root: Path,
    cameras: Sequence[Camera],
    params: Mapping[int, Mapping[str, np.ndarray]],
    *,
    val_cameras: Sequence[str] = (),
    test_timesteps: Sequence[int] = (),
    recipe: Mapping[str, Any] | None = None,
    num_expression: int = 10,
) -> None:
    """calibration_full.json, smpl_params.npz, splits.json (and recipe.json). Images and masks go
    to ``avatarrex_image_path`` / ``avatarrex_mask_path``, written by the caller."""
    root.mkdir(parents=True, exist_ok=True)
    calibration = {
        cam.camera_id: {
            "K": cam.K.tolist(),
            "R": cam.world_to_camera[:3, :3].tolist(),
            "T": cam.world_to_camera[:3, 3:].tolist(),
            "imgSize": [cam.width, cam.height],
            "distCoeff": [0.0] * 5,
        }
        for cam in cameras
    }
    atomic_write_text(root / "calibration_full.json", json.dumps(calibration, indent=1))
    atomic_savez(root / "smpl_params.npz", smpl_params_arrays(params, num_expression))
    atomic_write_text(root / SPLITS_FILE, splits_json(list(val_cameras), list(test_timesteps)))
    if recipe is not None:
        write_recipe(root, recipe)
