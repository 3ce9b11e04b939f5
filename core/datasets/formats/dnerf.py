"""D-NeRF style dynamic scenes: ``transforms_{train,val,test}.json`` with ``camera_angle_x`` and
frames of ``file_path`` (extension optional), ``transform_matrix`` (camera-to-world, OpenGL axes)
and ``time`` in [0, 1]. No rig: the scene imports, but no rig-bound avatar can be trained from it.

The images were rendered by Blender with the principal point at the image centre, so
cx = (W - 1) / 2 in the pixel-centre convention. RGBA images carry their mask in alpha.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..camera import Camera, intrinsics, opengl_c2w_to_opencv_w2c
from ..checks import as_array, check_rotation, load_json
from ..errors import DatasetError
from ..frames import SPLITS, Dataset, Frame, Split
from ..image_io import image_size, png_has_alpha
from ..options import ReadOptions
from .gaussian_avatars import resolve_image, transforms_path

FORMAT = "dnerf"
LABEL = "D-NeRF (dynamic scene, no rig)"
NOT_TRAINABLE = (
    "D-NeRF scenes have no FLAME or SMPL-X tracking: cameras and images import, but a rig-bound "
    "avatar cannot be trained from them (train a 4D sequence instead: fit --rig none)"
)


def looks_like(root: Path) -> bool:
    path = transforms_path(root, "train")
    if not path.is_file():
        return False
    try:
        data = load_json(path)
        frame = data["frames"][0]
        return "time" in frame and "flame_param_path" not in frame
    except (DatasetError, KeyError, IndexError, TypeError):
        return False


def read(root: Path, options: ReadOptions, rig_model: object | None = None) -> Dataset:
    del options, rig_model
    records: list[tuple[Split, Path, int, dict[str, Any], float]] = []
    for split in SPLITS:
        path = transforms_path(root, split)
        if not path.is_file():
            if split == "train":
                raise DatasetError(path, "is missing")
            continue
        data = load_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("frames"), list) or not data["frames"]:
            raise DatasetError(path, "should be an object with a non-empty 'frames' list")
        if "camera_angle_x" not in data:
            raise DatasetError(path, "lacks 'camera_angle_x'")
        angle = float(as_array([data["camera_angle_x"]], (1,), path, "camera_angle_x")[0])
        if not 0.0 < angle < math.pi:
            raise DatasetError(path, f"camera_angle_x {angle!r} is not an angle in (0, pi)")
        for i, frame in enumerate(data["frames"]):
            if not isinstance(frame, dict) or "transform_matrix" not in frame or "file_path" not in frame:
                raise DatasetError(path, f"frame {i} needs file_path and transform_matrix")
            records.append((split, path, i, frame, angle))

    times = sorted({float(f.get("time", 0.0)) for _, _, _, f, _ in records})
    timestep_of = {t: i for i, t in enumerate(times)}
    frames: list[Frame] = []
    size: tuple[int, int] | None = None
    for split, path, i, frame, angle in records:
        image = resolve_image(root, frame["file_path"], path, f"image of frame {i}")
        if size is None:
            size = image_size(image)
        width, height = size
        c2w = as_array(frame["transform_matrix"], (4, 4), path, f"frame {i} transform_matrix")
        check_rotation(c2w[:3, :3], path, f"frame {i} transform_matrix")
        focal = 0.5 * width / math.tan(0.5 * angle)
        kmat = intrinsics(focal, focal, (width - 1) / 2.0, (height - 1) / 2.0)
        time = float(as_array([frame.get("time", 0.0)], (1,), path, f"frame {i} time")[0])
        cam_id = f"{split}/{Path(frame['file_path']).name}"
        cam = Camera(cam_id, opengl_c2w_to_opencv_w2c(c2w), kmat, width, height)
        mask = image if png_has_alpha(image) else None
        frames.append(Frame(image, mask, cam, timestep_of[time], split, None, None, time))
    return Dataset(FORMAT, root, frames, None, "none", {}, rig_message=NOT_TRAINABLE)
