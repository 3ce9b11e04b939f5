"""HyperNeRF / Nerfies captures (a phone, or two on a rig, filming a moving subject):

- ``dataset.json``: ``{"ids": [...], "train_ids": [...], "val_ids": [...]}``;
- ``metadata.json``: per id ``{"warp_id", "appearance_id", "camera_id"[, "time_id"]}``: the time of
  the image is its ``time_id`` (or ``warp_id``), normalised over the capture; ``camera_id`` names
  the phone (``camera0``, ``camera1``: one moving camera each);
- ``camera/<id>.json``: ``orientation`` (3x3, world to camera rows, OpenCV axes: right, down,
  forward), ``position`` (the camera centre in the world), ``focal_length``, ``principal_point``
  (pixels, where the first pixel's centre is at 0.5), ``pixel_aspect_ratio``, ``skew``,
  ``radial_distortion``, ``tangential_distortion``, ``image_size`` ([width, height] at full size);
- ``rgb/<N>x/<id>.png``: the images at 1/N of the full size;
- ``scene.json`` (optional): ``center`` and ``scale`` that bring the scene into a unit box; the
  cameras are moved into it (positions (p - center) * scale), as the projects that train on these
  captures do, so the trainer's defaults (sizes in scene units) fit;
- ``points.npy`` (optional): the capture's structure-from-motion points (N, 3), moved the same
  way: where the 4D trainer starts its Gaussians (a phone capture has no masks to carve from).

No rig: the scene trains as a 4D sequence (``fit --rig none``). Splits: ``train_ids`` train;
a ``val_ids`` image taken at a training time is a held-out view (``val``, the second phone of a
"vrig" capture), one at another time a held-out time (``test``, the in-between frames of an
"interp" capture). Lens distortion is not modelled by the trainer: it is left out, with a note
saying how many pixels it moves the image corners.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...untrusted import files, reading
from ...untrusted.errors import InputError
from ...untrusted.npz import NpyHeader, read_npy_stream
from ..camera import Camera, intrinsics, rigid
from ..checks import (
    as_array,
    as_vector,
    check_rotation,
    dataset_error,
    load_json,
    plausible,
    positive_int,
    require_keys,
)  # fmt: skip
from ..errors import DatasetError
from ..frames import Dataset, Frame, Split
from ..image_io import IMAGE_SUFFIXES, image_size
from ..options import ReadOptions

FORMAT = "hypernerf"
LABEL = "HyperNeRF / Nerfies (phone capture, no rig)"
NOT_TRAINABLE = (
    "HyperNeRF scenes have no FLAME or SMPL-X tracking: cameras and images import, but a rig-bound "
    "avatar cannot be trained from them (train a 4D sequence instead: fit --rig none)"
)
DATASET_FILE, METADATA_FILE, SCENE_FILE = "dataset.json", "metadata.json", "scene.json"
POINTS_FILE = "points.npy"
MAX_POINTS = 5_000_000
CAMERA_FOLDER, RGB_FOLDER = "camera", "rgb"
MAX_LONG_SIDE = 1352  # the finest image scale no longer than this is read (as for DyNeRF videos)
DISTORTION_NOTE_PX = 0.5  # corner displacement worth a note
_SCALE_FOLDER = re.compile(r"([0-9]+)x")
_SAFE_ID = re.compile(r"[A-Za-z0-9_.\-]{1,200}")


def looks_like(root: Path) -> bool:
    return all((root / name).is_file() for name in (DATASET_FILE, METADATA_FILE)) and all(
        (root / name).is_dir() for name in (CAMERA_FOLDER, RGB_FOLDER)
    )


@dataclass(frozen=True)
class NerfiesCamera:
    """One camera file, at the full image size."""

    orientation: np.ndarray  # (3,3) world -> camera
    position: np.ndarray  # (3,) camera centre
    focal: float
    principal_point: np.ndarray  # (2,) pixels, first pixel centre at 0.5
    pixel_aspect_ratio: float
    skew: float
    radial: np.ndarray  # (k1, k2, k3)
    tangential: np.ndarray  # (p1, p2)
    width: int
    height: int

    def corner_distortion_px(self) -> float:
        """How far the lens distortion moves the image corner farthest from the principal point."""
        corners = np.array([[0.0, 0.0], [self.width, 0.0], [0.0, self.height], [self.width, self.height]])
        xy = (corners - self.principal_point) / np.array([self.focal, self.focal * self.pixel_aspect_ratio])
        r2 = (xy**2).sum(1, keepdims=True)
        k1, k2, k3 = self.radial
        p1, p2 = self.tangential
        radial = xy * (k1 * r2 + k2 * r2**2 + k3 * r2**3)
        x, y = xy[:, :1], xy[:, 1:]
        tangential = np.concatenate(
            [2 * p1 * x * y + p2 * (r2 + 2 * x * x), p1 * (r2 + 2 * y * y) + 2 * p2 * x * y], 1
        )
        return float(np.abs((radial + tangential) * self.focal).max())


def read_camera(path: Path) -> NerfiesCamera:
    data = load_json(path)
    require_keys(data, ("orientation", "position", "focal_length", "principal_point", "image_size"), path)
    orientation = as_array(data["orientation"], (3, 3), path, "orientation")
    check_rotation(orientation, path, "orientation")
    focal = float(as_vector([data["focal_length"]], path, "focal_length", 1)[0])
    aspect = float(as_vector([data.get("pixel_aspect_ratio", 1.0)], path, "pixel_aspect_ratio", 1)[0])
    if not (focal > 0 and aspect > 0):
        raise DatasetError(path, f"focal_length {focal:g} and pixel_aspect_ratio {aspect:g} must be positive")
    size = data["image_size"]
    if not isinstance(size, list) or len(size) != 2:
        raise DatasetError(path, "image_size should be [width, height]")
    width, height = (positive_int(v, path, "image_size") for v in size)
    radial = as_vector(data.get("radial_distortion") or [0.0, 0.0, 0.0], path, "radial_distortion")
    tangential = as_vector(data.get("tangential_distortion") or [0.0, 0.0], path, "tangential_distortion", 2)
    if radial.shape[0] > 3:
        raise DatasetError(path, f"radial_distortion has {radial.shape[0]} values, expected at most 3")
    return NerfiesCamera(
        orientation, as_vector(data["position"], path, "position", 3), focal,
        as_vector(data["principal_point"], path, "principal_point", 2), aspect,
        float(as_vector([data.get("skew", 0.0)], path, "skew", 1)[0]),
        np.pad(radial, (0, 3 - radial.shape[0])), tangential, width, height,
    )  # fmt: skip


def to_camera(camera_id: str, cam: NerfiesCamera, width: int, height: int, centre: np.ndarray,
              scale: float, source: Path) -> Camera:  # fmt: skip
    """Our camera for an image of ``width`` x ``height`` (a 1/N copy of the full size), the world
    moved by ``(p - centre) * scale``."""
    sx, sy = width / cam.width, height / cam.height
    if abs(sx / sy - 1.0) > 0.02:
        raise DatasetError(source, f"is {width}x{height}, not a scaled copy of {cam.width}x{cam.height}")
    if abs(cam.skew) > 1e-3 * cam.focal:
        raise DatasetError(source, f"has a skewed camera (skew {cam.skew:g}), which the trainer cannot model")
    # Principal points put the first pixel's centre at 0.5; ours at 0 (core/datasets/camera.py).
    cx, cy = cam.principal_point[0] * sx - 0.5, cam.principal_point[1] * sy - 0.5
    kmat = intrinsics(cam.focal * sx, cam.focal * cam.pixel_aspect_ratio * sy, cx, cy)
    translation = -cam.orientation @ ((cam.position - centre) * scale)
    return Camera(camera_id, rigid(cam.orientation, translation), kmat, width, height)


def _ids(value: Any, path: Path, what: str) -> list[str]:
    if not isinstance(value, list):
        raise DatasetError(path, f"'{what}' should be a list of image ids")
    for item in value:
        if not isinstance(item, str) or not _SAFE_ID.fullmatch(item) or item in (".", ".."):
            raise DatasetError(
                path, f"'{what}' holds {item!r}, not a plain image id (letters, digits, _ . -)"
            )
    if len(set(value)) != len(value):
        raise DatasetError(path, f"'{what}' lists an image id twice")
    return list(value)


def _scene_box(root: Path) -> tuple[np.ndarray, float]:
    path = root / SCENE_FILE
    if not path.is_file():
        return np.zeros(3), 1.0
    data = load_json(path)
    require_keys(data, ("center", "scale"), path)
    scale = float(as_vector([data["scale"]], path, "scale", 1)[0])
    if not scale > 0:
        raise DatasetError(path, f"scale {scale:g} must be positive")
    return as_vector(data["center"], path, "center", 3), scale


def _check_points_header(header: NpyHeader) -> None:
    shape = header.shape
    if len(shape) != 2 or shape[1] != 3 or not 0 < shape[0] <= MAX_POINTS:
        raise InputError(f"holds an array of shape {shape}; points are (N, 3), N from 1 to {MAX_POINTS:,}")
    if header.dtype.kind not in "iuf":
        raise InputError(f"holds {header.dtype.name} values where numbers are due")


def read_points(root: Path, centre: np.ndarray, scale: float) -> np.ndarray | None:
    """``points.npy`` (the capture's SfM points) moved into the scene box, or None without it."""
    path = root / POINTS_FILE
    if not path.is_file():
        return None
    limit = MAX_POINTS * 3 * 8 + 4096
    with reading(path, dataset_error(path), ".npy"):
        with files.open_regular(path, limit) as stream:
            array = read_npy_stream(stream, POINTS_FILE, max_bytes=limit, check=_check_points_header)
    points = np.asarray(array, dtype=np.float64)
    plausible(points, path, "the points")
    return (points - centre) * scale


def image_folder(root: Path, full_width: int, full_height: int) -> tuple[Path, int]:
    """The ``rgb/<N>x`` folder read: the finest no longer than MAX_LONG_SIDE, else the coarsest."""
    folder = root / RGB_FOLDER
    try:
        found = sorted(
            (int(m.group(1)), entry) for entry in folder.iterdir()
            if entry.is_dir() and (m := _SCALE_FOLDER.fullmatch(entry.name)) and int(m.group(1)) > 0
        )  # fmt: skip
    except OSError as exc:
        raise DatasetError(folder, f"cannot be listed ({exc.strerror or exc})") from None
    if not found:
        raise DatasetError(folder, "holds no image folders (1x, 2x, 4x, ...)")
    fitting = [(n, p) for n, p in found if max(full_width, full_height) / n <= MAX_LONG_SIDE]
    factor, path = fitting[0] if fitting else found[-1]
    return path, factor


def _image(folder: Path, image_id: str) -> Path:
    for suffix in (".png", *(s for s in IMAGE_SUFFIXES if s != ".png")):
        path = folder / f"{image_id}{suffix}"
        if path.is_file():
            return path
    raise DatasetError(folder, f"has no image for id {image_id!r} ({image_id}.png)")


def read(root: Path, options: ReadOptions, rig_model: object | None = None) -> Dataset:
    del options, rig_model
    listing = load_json(root / DATASET_FILE)
    require_keys(listing, ("train_ids",), root / DATASET_FILE)
    train_ids = _ids(listing["train_ids"], root / DATASET_FILE, "train_ids")
    val_ids = _ids(listing.get("val_ids", []), root / DATASET_FILE, "val_ids")
    if not train_ids:
        raise DatasetError(root / DATASET_FILE, "lists no training images ('train_ids' is empty)")
    if set(train_ids) & set(val_ids):
        raise DatasetError(root / DATASET_FILE, "lists an image in both 'train_ids' and 'val_ids'")
    metadata = load_json(root / METADATA_FILE)
    if not isinstance(metadata, dict):
        raise DatasetError(root / METADATA_FILE, "should be an object of image ids")
    times: dict[str, float] = {}
    phones: dict[str, str] = {}
    for image_id in train_ids + val_ids:
        entry = metadata.get(image_id)
        key = "time_id" if isinstance(entry, dict) and "time_id" in entry else "warp_id"
        if not isinstance(entry, dict) or key not in entry:
            raise DatasetError(
                root / METADATA_FILE, f"has no time (time_id or warp_id) for image {image_id!r}"
            )
        times[image_id] = float(as_vector([entry[key]], root / METADATA_FILE, f"{image_id}.{key}", 1)[0])
        # The physical camera (a phone of the rig): its frames form one moving camera in Blender.
        phone = as_vector([entry.get("camera_id", 0)], root / METADATA_FILE, f"{image_id}.camera_id", 1)[0]
        phones[image_id] = f"camera{int(phone)}"
    centre, scale = _scene_box(root)
    cameras = {i: read_camera(root / CAMERA_FOLDER / f"{i}.json") for i in train_ids + val_ids}
    first = cameras[train_ids[0]]
    folder, factor = image_folder(root, first.width, first.height)

    lo, hi = min(times.values()), max(times.values())
    train_times = {times[i] for i in train_ids}
    ordered = sorted(set(times.values()))
    timestep_of = {t: k for k, t in enumerate(ordered)}
    frames: list[Frame] = []
    worst_distortion = 0.0
    training = frozenset(train_ids)
    for image_id in train_ids + val_ids:
        # A held-out image at a training time shows a held-out view; at another time, a held-out time.
        split: Split = (
            "train" if image_id in training else "val" if times[image_id] in train_times else "test"
        )
        image = _image(folder, image_id)
        width, height = image_size(image)
        cam = cameras[image_id]
        camera = to_camera(phones[image_id], cam, width, height, centre, scale, image)
        worst_distortion = max(worst_distortion, cam.corner_distortion_px() * width / cam.width)
        normalised = (times[image_id] - lo) / (hi - lo) if hi > lo else 0.0
        frames.append(Frame(image, None, camera, timestep_of[times[image_id]], split, None, None, normalised))
    notes = [f"images read from {folder.relative_to(root)} (1/{factor} of {first.width}x{first.height})"]
    if worst_distortion > DISTORTION_NOTE_PX:
        notes.append(
            f"lens distortion left out: it moves the image corners by up to {worst_distortion:.1f} px "
            "at the size read (the trainer models pinhole cameras)"
        )
    points = read_points(root, centre, scale)
    if points is not None:
        notes.append(f"{len(points):,} structure-from-motion points ({POINTS_FILE}) to start from")
    return Dataset(
        FORMAT, root, frames, None, "none", {}, rig_message=NOT_TRAINABLE, notes=notes, points=points
    )
