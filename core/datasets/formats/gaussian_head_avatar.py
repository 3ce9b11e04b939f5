"""Gaussian Head Avatar's NeRSemble layout (multi-view, per-frame cameras and 3DMM fits).

``images/{frame:04d}/image_{cam}.jpg`` (+ ``mask_``, ``image_lowres_``, ``mask_lowres_``),
``cameras/{frame:04d}/camera_{cam}.npz`` with ``extrinsic`` (3x4 world-to-camera, OpenCV) and
``intrinsic`` (3x3, pixels of the full-size image), ``params/{frame:04d}/params.npz`` with
``id_coeff``, ``exp_coeff``, ``scale``, ``pose`` (so3 + translation) from Multiview-3DMM-Fitting.

The fit places the face model as ``scale * R @ v + T`` with R about the origin. BFM fits (the
default: id 80, expression 64) are not a rig we have: cameras and images still read, and the rig
is reported unsupported. FLAME fits (id 100, expression 50 + jaw 3 + eyes 6) are converted to
FLAME parameters: the world is divided by ``scale`` (camera translations too), and since FLAME
rotates about its root joint, the translation is corrected by that joint, which needs the model:
pass ``rig_model`` (without it the rig is reported unsupported, with the reason).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ...rig.lbs import axis_angle_to_matrix
from ...untrusted.names import ascii_number
from ..camera import Camera, rigid
from ..checks import as_array, as_vector, check_intrinsics, check_rotation, load_npz, numbers_array
from ..errors import DatasetError
from ..frames import Dataset, Frame, RigFamily, RigStatus
from ..image_io import image_size
from ..options import ReadOptions, split_rule

FORMAT = "gaussian_head_avatar"
LABEL = "Gaussian Head Avatar (NeRSemble layout)"
_CAMERA_FILE = re.compile(r"^camera_(.+)\.npz$")
FLAME_ID, FLAME_EXP = 100, 50
FLAME_EXP_FULL = FLAME_EXP + 9  # expression + jaw (3) + eyes (6)


def looks_like(root: Path) -> bool:
    return (root / "cameras").is_dir() and (root / "images").is_dir()


def _frame_dirs(root: Path) -> list[tuple[int, str]]:
    out = []
    for child in (root / "images").iterdir():
        number = ascii_number(child.name)
        if child.is_dir() and number is not None:
            out.append((number, child.name))
    return sorted(out)


def _fit_kind(params: dict[str, np.ndarray]) -> str:
    ids = int(np.size(params.get("id_coeff", [])))
    exps = int(np.asarray(params.get("exp_coeff", np.zeros((1, 0)))).reshape(-1).size)
    if ids == FLAME_ID and exps == FLAME_EXP_FULL:
        return "FLAME"
    if ids == 80 and exps == 64:
        return "BFM"
    return f"an unknown 3DMM (id {ids}, expression {exps})"


def _root_joint(model: Any, shape: np.ndarray, expr: np.ndarray) -> np.ndarray:
    from ...rig.lbs import shaped_rest

    shaped = shaped_rest(model, shape, expr)
    return np.asarray(model.joint_regressor[0] @ shaped, dtype=np.float64)


def read(root: Path, options: ReadOptions, rig_model: object | None = None) -> Dataset:
    frame_dirs = _frame_dirs(root)
    if not frame_dirs:
        raise DatasetError(root / "images", "has no numbered frame folders (images/0000/...)")
    prefix = "image_lowres_" if options.resolution == "lowres" else "image_"
    mask_prefix = "mask_lowres_" if options.resolution == "lowres" else "mask_"
    if options.resolution not in ("full", "lowres"):
        raise DatasetError(root, f"resolution should be 'full' or 'lowres', got {options.resolution!r}")

    # Rig parameters per frame (read first: FLAME fits rescale the cameras).
    raw_params: dict[int, dict[str, np.ndarray]] = {}
    params_dir = root / "params"
    for timestep, name in frame_dirs:
        path = params_dir / name / "params.npz"
        if path.is_file():
            raw_params[timestep] = load_npz(path)
        elif params_dir.is_dir():
            raise DatasetError(path, "is missing (every frame folder needs its params.npz)")
    kinds = {_fit_kind(p) for p in raw_params.values()}
    rig_status: RigStatus = "unsupported"
    rig_family: RigFamily | None = None
    message = ""
    if not raw_params:
        message = "no params/ folder: cameras and images only"
    elif kinds != {"FLAME"}:
        kind = sorted(kinds)[0]
        message = f"the 3DMM fits are {kind}, not FLAME: cameras and images import, the rig parameters do not"
    elif rig_model is None:
        message = (
            "FLAME fits of Gaussian Head Avatar rotate about the origin; converting them needs the "
            "FLAME model (pass rig_model)"
        )
    else:
        rig_status, rig_family = "ok", "FLAME"

    scale_of: dict[int, float] = {}
    rig_params: dict[int, dict[str, np.ndarray]] = {}
    for timestep, raw in raw_params.items():
        path = params_dir / f"{timestep:04d}" / "params.npz"
        for key in ("id_coeff", "exp_coeff", "scale", "pose"):
            if key not in raw:
                raise DatasetError(path, f"lacks {key!r}")
        scale = float(as_vector(np.reshape(raw["scale"], -1), path, "scale", 1)[0])
        if not scale > 0:
            raise DatasetError(path, f"scale {scale!r} is not positive")
        pose = as_vector(raw["pose"], path, "pose", 6)
        if rig_status == "ok":
            scale_of[timestep] = scale
            exp = as_vector(raw["exp_coeff"], path, "exp_coeff", FLAME_EXP_FULL)
            shape = as_vector(raw["id_coeff"], path, "id_coeff", FLAME_ID)
            expr = exp[:FLAME_EXP]
            rot = axis_angle_to_matrix(pose[:3])
            j0 = _root_joint(rig_model, shape, expr)
            rig_params[timestep] = {
                "shape": shape,
                "expr": expr,
                "rotation": pose[:3].copy(),
                "neck_pose": np.zeros(3),
                "jaw_pose": exp[FLAME_EXP : FLAME_EXP + 3].copy(),
                "eyes_pose": exp[FLAME_EXP + 3 :].copy(),
                "translation": pose[3:] / scale + rot @ j0 - j0,
            }

    frames_raw: list[tuple[int, Camera, Path, Path | None]] = []
    sizes: dict[str, tuple[int, int, float]] = {}
    for timestep, name in frame_dirs:
        cam_dir = root / "cameras" / name
        if not cam_dir.is_dir():
            raise DatasetError(cam_dir, "is missing (every frame folder needs its cameras)")
        cam_files = sorted(p for p in cam_dir.iterdir() if _CAMERA_FILE.match(p.name))
        if not cam_files:
            raise DatasetError(cam_dir, "holds no camera_*.npz files")
        for cam_file in cam_files:
            cam_id = cam_file.name[len("camera_") : -len(".npz")]
            image = root / "images" / name / f"{prefix}{cam_id}.jpg"
            if not image.is_file():
                raise DatasetError(image, f"is missing (camera {cam_file.name} has no image)")
            mask = root / "images" / name / f"{mask_prefix}{cam_id}.jpg"
            data = load_npz(cam_file)
            for key in ("extrinsic", "intrinsic"):
                if key not in data:
                    raise DatasetError(cam_file, f"lacks {key!r}")
            ext = numbers_array(data["extrinsic"], cam_file, "extrinsic")
            ext = as_array(ext[:3] if ext.shape == (4, 4) else ext, (3, 4), cam_file, "extrinsic")
            check_rotation(ext[:, :3], cam_file, "extrinsic")
            kmat = as_array(data["intrinsic"], (3, 3), cam_file, "intrinsic").copy()
            if cam_id not in sizes:
                width, height = image_size(image)
                full = root / "images" / name / f"image_{cam_id}.jpg"
                ratio = width / image_size(full)[0] if prefix != "image_" and full.is_file() else 1.0
                sizes[cam_id] = (width, height, ratio)
            width, height, ratio = sizes[cam_id]
            kmat[:2] *= ratio
            check_intrinsics(kmat, width, height, cam_file, "intrinsic")
            w2c = rigid(ext[:, :3], ext[:, 3] / scale_of.get(timestep, 1.0))
            camera = Camera(cam_id, w2c, kmat, width, height)
            frames_raw.append((timestep, camera, image, mask if mask.is_file() else None))

    timesteps = [t for t, _ in frame_dirs]
    rule = split_rule(root, timesteps, sorted(sizes), options)
    frames = [
        Frame(image, mask, cam, t, rule.split_of(cam.camera_id, t), rig_family,
              rig_params.get(t) if rig_status == "ok" else None)
        for t, cam, image, mask in frames_raw
    ]  # fmt: skip
    notes = []
    if scale_of:
        notes.append("world divided by the fit's scale so FLAME is in metres")
    return Dataset(
        FORMAT,
        root,
        frames,
        rig_family,
        rig_status,
        rig_params,
        rig_message=message,
        notes=notes,
    )
