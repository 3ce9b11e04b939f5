"""GaussianAvatars / VHAP export of NeRSemble: multi-view FLAME.

Layout: ``transforms_{train,val,test}.json`` (one per split; val is a held-out camera, test
held-out sequences), ``images/``, ``fg_masks/``, ``flame_param/{t:05d}.npz``, and
``canonical_flame_param.npz``. Each frame's ``transform_matrix`` is camera-to-world in
OpenGL/Blender camera axes; ``fl_x, fl_y, cx, cy, w, h`` are pixels (per frame, else top level),
read as OpenCV intrinsics. Without them, ``camera_angle_x`` with a centred principal point.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..camera import Camera, intrinsics, opengl_c2w_to_opencv_w2c
from ..checks import as_array, check_intrinsics, check_rotation, inside, load_json, load_npz, positive_int
from ..errors import DatasetError
from ..frames import SPLITS, Dataset, Frame, Split
from ..image_io import IMAGE_SUFFIXES, image_size
from ..options import ReadOptions
from ..rig_params import flame_frame

FORMAT = "gaussian_avatars"
LABEL = "GaussianAvatars / VHAP (NeRSemble, multi-view FLAME)"
MARKER = "canonical_flame_param.npz"


def transforms_path(root: Path, split: Split) -> Path:
    return root / f"transforms_{split}.json"


def looks_like(root: Path) -> bool:
    if not transforms_path(root, "train").is_file():
        return False
    if (root / MARKER).is_file() or (root / "flame_param").is_dir():
        return True
    try:
        data = load_json(transforms_path(root, "train"))
        return bool(data.get("frames")) and "flame_param_path" in data["frames"][0]
    except (DatasetError, AttributeError, TypeError, KeyError, IndexError):
        return False


def resolve_image(root: Path, relative: str, source: Path, what: str) -> Path:
    """Dataset file paths may omit the extension (the NeRF convention adds .png)."""
    path = inside(root, relative, source, what)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        if not path.is_file():
            raise DatasetError(path, f"{what} is missing (listed in {source.name})")
        return path
    for suffix in IMAGE_SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    raise DatasetError(path, f"{what} is missing (tried .png and .jpg; listed in {source.name})")


def _camera(frame: dict[str, Any], top: dict[str, Any], index: int, source: Path, image: Path) -> Camera:
    where = f"frame {index}"

    def pick(key: str) -> Any:
        return frame[key] if key in frame else top.get(key)

    c2w = as_array(frame.get("transform_matrix"), (4, 4), source, f"{where} transform_matrix")
    check_rotation(c2w[:3, :3], source, f"{where} transform_matrix")
    w2c = opengl_c2w_to_opencv_w2c(c2w)
    width, height = pick("w"), pick("h")
    if width is None or height is None:
        width, height = image_size(image)
    width = positive_int(width, source, f"{where} w")
    height = positive_int(height, source, f"{where} h")
    fl_x, fl_y = pick("fl_x"), pick("fl_y")
    if fl_x is None:
        angle = pick("camera_angle_x")
        if angle is None:
            raise DatasetError(source, f"{where} has neither fl_x nor camera_angle_x")
        angle = float(angle)
        if not (0.0 < angle < math.pi):
            raise DatasetError(source, f"{where} camera_angle_x {angle!r} is not an angle in (0, pi)")
        fl_x = 0.5 * width / math.tan(0.5 * angle)
    if fl_y is None:
        angle_y = pick("camera_angle_y")
        fl_y = 0.5 * height / math.tan(0.5 * float(angle_y)) if angle_y is not None else fl_x
    cx = pick("cx")
    cy = pick("cy")
    values = as_array(
        [fl_x, fl_y, (width - 1) / 2.0 if cx is None else cx, (height - 1) / 2.0 if cy is None else cy],
        (4,),
        source,
        f"{where} intrinsics",
    )
    kmat = intrinsics(*values)
    check_intrinsics(kmat, width, height, source, where)
    camera_id = frame.get("camera_id", frame.get("camera_index", index))
    return Camera(str(camera_id), w2c, kmat, width, height)


def read(root: Path, options: ReadOptions, rig_model: object | None = None) -> Dataset:
    del options, rig_model  # splits come from the three files; nothing model-dependent here
    records: list[tuple[Split, int, dict[str, Any], dict[str, Any], Path]] = []
    for split in SPLITS:
        path = transforms_path(root, split)
        if not path.is_file():
            if split == "train":
                raise DatasetError(path, "is missing: a GaussianAvatars dataset needs transforms_train.json")
            continue
        top = load_json(path)
        if not isinstance(top, dict) or not isinstance(top.get("frames"), list):
            raise DatasetError(path, "should be an object with a 'frames' list")
        listed_cams = top.get("camera_indices")
        for i, frame in enumerate(top["frames"]):
            if not isinstance(frame, dict):
                raise DatasetError(path, f"frame {i} is not an object")
            cam_index = frame.get("camera_index")
            if listed_cams is not None and cam_index is not None and cam_index not in listed_cams:
                raise DatasetError(
                    path, f"frame {i} uses camera_index {frame['camera_index']} not listed in camera_indices"
                )
            records.append((split, i, frame, top, path))
    if not records:
        raise DatasetError(transforms_path(root, "train"), "lists no frames")

    notes: list[str] = []
    timestep_of = _timesteps(records, root, notes)
    params_by_path: dict[Path, dict[str, np.ndarray]] = {}
    rig_params: dict[int, dict[str, np.ndarray]] = {}
    frames: list[Frame] = []
    shared_static: np.ndarray | None = None
    for split, i, frame, top, source in records:
        image = resolve_image(root, frame.get("file_path", ""), source, f"image of frame {i}")
        mask = None
        if frame.get("fg_mask_path"):
            mask = resolve_image(root, frame["fg_mask_path"], source, f"mask of frame {i}")
        camera = _camera(frame, top, i, source, image)
        param_path = inside(root, frame.get("flame_param_path", ""), source, f"flame_param_path of frame {i}")
        if param_path not in params_by_path:
            params = flame_frame(load_npz(param_path), param_path)
            if "static_offset" in params:
                # Identical across a sequence: share one array instead of thousands of copies.
                if shared_static is not None and np.array_equal(shared_static, params["static_offset"]):
                    params["static_offset"] = shared_static
                else:
                    shared_static = params["static_offset"]
            params_by_path[param_path] = params
        params = params_by_path[param_path]
        timestep = timestep_of[(source, i)]
        rig_params[timestep] = params
        frames.append(Frame(image, mask, camera, timestep, split, "FLAME", params))

    background = None
    first_top = records[0][3]
    if "background_color" in first_top:
        colour = as_array(first_top["background_color"], (3,), records[0][4], "background_color")
        background = (float(colour[0]), float(colour[1]), float(colour[2]))
    recipe = first_top.get("synthetic_recipe")
    if not isinstance(recipe, dict):
        recipe = None
    fps = float(first_top["fps"]) if isinstance(first_top.get("fps"), int | float) else None
    return Dataset(
        format=FORMAT,
        root=root,
        frames=frames,
        rig_family="FLAME",
        rig_status="ok",
        rig_params=rig_params,
        notes=notes,
        background=background,
        fps=fps,
        recipe=recipe,
    )


def _timesteps(
    records: list[tuple[Split, int, dict[str, Any], dict[str, Any], Path]], root: Path, notes: list[str]
) -> dict[tuple[Path, int], int]:
    """timestep_index per frame, unless two splits reuse an index for different parameter files:
    then timesteps are renumbered by parameter file, in order of appearance."""
    by_index: dict[int, str] = {}
    consistent = True
    for _split, i, frame, _top, source in records:
        t = frame.get("timestep_index")
        if not isinstance(t, int) or isinstance(t, bool):
            if t is None:
                consistent = False
                break
            raise DatasetError(source, f"frame {i} timestep_index {t!r} is not an integer")
        path = str(frame.get("flame_param_path"))
        if by_index.setdefault(t, path) != path:
            consistent = False
            break
    out: dict[tuple[Path, int], int] = {}
    if consistent:
        for _split, i, frame, _top, source in records:
            out[(source, i)] = int(frame["timestep_index"])
        return out
    order: dict[str, int] = {}
    for _split, i, frame, _top, source in records:
        key = str(frame.get("flame_param_path"))
        out[(source, i)] = order.setdefault(key, len(order))
    notes.append("timestep_index values clash between splits; timesteps renumbered by FLAME parameter file")
    return out
