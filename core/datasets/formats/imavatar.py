"""IMavatar (monocular FLAME; also read by MonoGaussianAvatar, SplattingAvatar, 4D-Gaussian-Head).

One or more sequence folders, each with ``flame_params.json``, ``image/`` and ``mask/``. The json
holds ``intrinsics`` [fx, fy, cx, cy] divided by the image size with fx stored negated (an older
variant stores pixels of a 512 image), ``shape_params`` (100), and ``frames`` with ``file_path``
("./image/N"), ``world_mat`` (3x4 world-to-camera), ``expression`` (50) and ``pose`` (15 = global,
neck, jaw, eyes).

Conventions converted here: IMavatar's camera looks down -z with image y = fy * y / z, so its camera
axes are OpenGL-like; and its world is FLAME space scaled by 4 (the FLAME mesh is multiplied by 4
before projection). The reader divides camera translations by 4, so the dataset world is FLAME
metres like every other format, with FLAME ``translation`` zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..camera import Camera, intrinsics
from ..checks import as_array, as_vector, check_rotation, load_json
from ..errors import DatasetError
from ..frames import Dataset, Frame
from ..image_io import image_size
from ..options import DEFAULT_TEST_FRACTION, ReadOptions, last_timesteps
from .gaussian_avatars import resolve_image

FORMAT = "imavatar"
LABEL = "IMavatar (monocular FLAME)"
PARAMS_FILE = "flame_params.json"
WORLD_SCALE = 4.0  # IMavatar multiplies FLAME vertices by 4


def sequence_folders(root: Path) -> list[Path]:
    """Folders holding flame_params.json: the root itself, else its sub-folders (two levels, as in
    subject/subject/MVI_xxxx)."""
    if (root / PARAMS_FILE).is_file():
        return [root]
    found = sorted(p.parent for p in root.glob(f"*/{PARAMS_FILE}"))
    if not found:
        found = sorted(p.parent for p in root.glob(f"*/*/{PARAMS_FILE}"))
    return found


def looks_like(root: Path) -> bool:
    return bool(sequence_folders(root))


def _normalised_intrinsics(raw: Any, path: Path) -> np.ndarray:
    values = as_vector(raw, path, "intrinsics", 4)
    if values[3] > 1.0:  # the old variant: pixels of a 512x512 image
        values = values / 512.0
    return values


def _w2c(world_mat: Any, signs: tuple[float, float], path: Path, where: str) -> np.ndarray:
    if isinstance(world_mat, list) and len(world_mat) == 4:
        world_mat = world_mat[:3]  # a 4x4 matrix: its last row is (0, 0, 0, 1)
    mat = as_array(world_mat if world_mat is not None else [], (3, 4), path, f"{where} world_mat")
    check_rotation(mat[:, :3], path, f"{where} world_mat")
    # Their camera point p projects as u = K0 * p_x / p_z + cx with p_z < 0 in front: OpenCV axes
    # are (sign(-K0) p_x, sign(-K1) p_y, -p_z).
    flip = np.diag([signs[0], signs[1], -1.0])
    w2c = np.eye(4)
    w2c[:3, :3] = flip @ mat[:, :3]
    w2c[:3, 3] = flip @ mat[:, 3] / WORLD_SCALE
    return w2c


def read(root: Path, options: ReadOptions, rig_model: object | None = None) -> Dataset:
    del rig_model
    folders = sequence_folders(root)
    if not folders:
        raise DatasetError(root, f"has no {PARAMS_FILE} (IMavatar format)")
    frames: list[Frame] = []
    rig_params: dict[int, dict[str, np.ndarray]] = {}
    sequence_of: dict[int, str] = {}
    shape: np.ndarray | None = None
    timestep = 0
    for folder in folders:
        path = folder / PARAMS_FILE
        data = load_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("frames"), list) or not data["frames"]:
            raise DatasetError(path, "should be an object with a non-empty 'frames' list")
        for key in ("intrinsics", "shape_params"):
            if key not in data:
                raise DatasetError(path, f"lacks {key!r}")
        norm = _normalised_intrinsics(data["intrinsics"], path)
        signs = (-float(np.sign(norm[0])), -float(np.sign(norm[1])))
        if 0.0 in signs or signs[0] * signs[1] != -1.0:
            raise DatasetError(path, f"intrinsics {list(norm)} are not IMavatar's (fx stored negated)")
        seq_shape = as_vector(data["shape_params"], path, "shape_params")
        if shape is None:
            shape = seq_shape
        first_image = resolve_image(folder, data["frames"][0].get("file_path", ""), path, "image of frame 0")
        width, height = image_size(first_image)
        kmat = intrinsics(abs(norm[0]) * width, abs(norm[1]) * height, norm[2] * width, norm[3] * height)
        for i, frame in enumerate(data["frames"]):
            if not isinstance(frame, dict):
                raise DatasetError(path, f"frame {i} is not an object")
            where = f"frame {i}"
            for key in ("file_path", "world_mat", "expression", "pose"):
                if key not in frame:
                    raise DatasetError(path, f"{where} lacks {key!r}")
            image = resolve_image(folder, frame["file_path"], path, f"image of {where}")
            mask_rel = "/".join("mask" if part == "image" else part for part in frame["file_path"].split("/"))
            mask = None
            try:
                mask = resolve_image(folder, mask_rel, path, f"mask of {where}")
            except DatasetError:
                if (folder / "mask").is_dir():
                    raise
            pose = as_vector(frame["pose"], path, f"{where} pose", 15)
            params = {
                "shape": seq_shape,
                "expr": as_vector(frame["expression"], path, f"{where} expression"),
                "rotation": pose[0:3],
                "neck_pose": pose[3:6],
                "jaw_pose": pose[6:9],
                "eyes_pose": pose[9:15],
                "translation": np.zeros(3),
            }
            camera = Camera("0", _w2c(frame["world_mat"], signs, path, where), kmat, width, height)
            rig_params[timestep] = params
            sequence_of[timestep] = folder.name
            frames.append(Frame(image, mask, camera, timestep, "train", "FLAME", params))
            timestep += 1

    test = _test_timesteps(sequence_of, folders, options)
    frames = [
        Frame(f.image_path, f.mask_path, f.camera, f.timestep, "test" if f.timestep in test else "train",
              f.rig_family, f.params)
        for f in frames
    ]  # fmt: skip
    notes = [f"IMavatar world (FLAME x{WORLD_SCALE:g}) rescaled to FLAME metres"]
    if len(folders) > 1:
        notes.append("sequences: " + ", ".join(f.name for f in folders))
    return Dataset(FORMAT, root, frames, "FLAME", "ok", rig_params, notes=notes)


def _test_timesteps(sequence_of: dict[int, str], folders: list[Path], options: ReadOptions) -> set[int]:
    if options.test_sequences is not None:
        names = {str(n) for n in options.test_sequences}
        unknown = names - {f.name for f in folders}
        if unknown:
            raise DatasetError(folders[0].parent, f"test sequence(s) {', '.join(sorted(unknown))} not found")
        return {t for t, name in sequence_of.items() if name in names}
    spec = options.test_frames
    timesteps = list(sequence_of)
    if spec is None:
        return set(last_timesteps(timesteps, DEFAULT_TEST_FRACTION))
    if isinstance(spec, int | float):
        return set(last_timesteps(timesteps, spec))
    return {int(t) for t in spec}
