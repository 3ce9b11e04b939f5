"""DyNeRF / Neural 3D Video multi-view videos: ``cam00.mp4``, ``cam01.mp4``, ... (one synchronised
video per camera) and LLFF's ``poses_bounds.npy`` (llff_poses.py), one row per video in the
cameras' sorted order; copies decoded by 4DGaussians hold ``camNN/images/0000.png`` ... instead.
No rig: the scene trains as a 4D sequence (``fit --rig none``).

Time is the frame index over the kept frames, normalised to [0, 1]. ``cam00``, the centre
reference camera the dataset's authors hold out for testing, is the held-out view (``val``); no
time is held out unless asked (``test_frames``). Videos are decoded once into a cache of images
(dynerf_videos.py) at the frame choice of ReadOptions (stride, max frames, downscale).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ...untrusted.names import numeric_sort_key
from ..camera import Camera, intrinsics, invert_rigid
from ..errors import DatasetError
from ..frames import Dataset, Frame
from ..image_io import IMAGE_SUFFIXES, image_size
from ..options import ReadOptions, split_rule
from . import dynerf_videos
from .llff_poses import POSES_FILE, LlffCamera, read_poses_bounds

FORMAT = "dynerf"
LABEL = "DyNeRF / Neural 3D Video (multi-view videos, no rig)"
NOT_TRAINABLE = (
    "DyNeRF scenes have no FLAME or SMPL-X tracking: cameras and frames import, but a rig-bound "
    "avatar cannot be trained from them (train a 4D sequence instead: fit --rig none)"
)
HELD_OUT_CAMERA = "cam00"
VIDEO_SUFFIX = ".mp4"
_CAMERA = re.compile(r"cam([0-9]+)")
ASPECT_TOLERANCE = 0.02  # images resized from the pose size keep its aspect ratio


@dataclass
class CameraFiles:
    name: str
    video: Path | None = None
    images: list[Path] = field(default_factory=list)


def camera_files(root: Path) -> list[CameraFiles]:
    """The scene's cameras in order of their number (cam2 before cam10)."""
    found: dict[str, CameraFiles] = {}
    try:
        entries = list(root.iterdir())
    except OSError as exc:
        raise DatasetError(root, f"cannot be listed ({exc.strerror or exc})") from None
    for entry in entries:
        stem = entry.stem if entry.suffix.lower() == VIDEO_SUFFIX else entry.name
        if not _CAMERA.fullmatch(stem):
            continue
        cam = found.setdefault(stem, CameraFiles(stem))
        if entry.suffix.lower() == VIDEO_SUFFIX and entry.is_file():
            cam.video = entry
        elif entry.is_dir() and (entry / "images").is_dir():
            listed = (entry / "images").iterdir()
            images = [p for p in listed if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
            cam.images = sorted(images, key=lambda p: numeric_sort_key(p.stem))
    cams = [c for c in found.values() if c.video is not None or c.images]
    return sorted(cams, key=lambda c: (numeric_sort_key(c.name[3:]), c.name))


def looks_like(root: Path) -> bool:
    """``poses_bounds.npy`` with camera videos or image folders, or camera videos alone (then
    the reader says the poses are missing)."""
    try:
        cams = camera_files(root)
    except DatasetError:
        return False
    has_videos = any(c.video is not None for c in cams)
    return has_videos or ((root / POSES_FILE).is_file() and bool(cams))


def _fps_of(root: Path, cams: list[CameraFiles]) -> float | None:
    record = dynerf_videos.read_record(root)
    if record is not None:
        fps = record.get("fps")
        return float(fps) if isinstance(fps, int | float) and 0.1 <= fps <= 1000 else None
    video = next((c.video for c in cams if c.video is not None), None)
    if video is None or dynerf_videos.pyav() is None:
        return None
    try:
        return dynerf_videos.probe(video).fps
    except DatasetError:
        return None


def _camera(name: str, pose: LlffCamera, width: int, height: int, source: Path) -> Camera:
    sx, sy = width / pose.width, height / pose.height
    if abs(sx / sy - 1.0) > ASPECT_TOLERANCE:
        raise DatasetError(
            source,
            f"{name}'s images are {width}x{height}, but {POSES_FILE} solved it at "
            f"{pose.width:g}x{pose.height:g}: another aspect ratio",
        )
    kmat = intrinsics(pose.focal * sx, pose.focal * sy, (width - 1) / 2.0, (height - 1) / 2.0)
    return Camera(name, invert_rigid(pose.camera_to_world), kmat, width, height)


def _pick(images: list[Path], stride: int, most: int) -> list[Path]:
    kept = images[::stride]
    return kept[:most] if most else kept


def read(
    root: Path, options: ReadOptions, rig_model: object | None = None, log: dynerf_videos.Log | None = None
) -> Dataset:
    del rig_model
    poses = read_poses_bounds(root / POSES_FILE)
    cams = camera_files(root)
    if not cams:
        raise DatasetError(root, "holds no camera videos (cam00.mp4, ...) or decoded frames (cam00/images/)")
    names = ", ".join(c.name for c in cams[:4]) + (", ..." if len(cams) > 4 else "")
    if len(poses) != len(cams):
        raise DatasetError(
            root,
            f"{POSES_FILE} has {len(poses)} cameras but the folder holds {len(cams)} ({names}); "
            "DyNeRF scenes have one pose per camera, in the cameras' sorted order",
        )
    dynerf_videos.check_choice(options, root)
    notes: list[str] = []
    stride, most = options.frame_stride, options.max_frames
    source = root
    if not all(c.images for c in cams):
        no_video = [c.name for c in cams if c.video is None]
        if no_video:
            no_images = next(c.name for c in cams if not c.images)
            raise DatasetError(
                root,
                f"{no_video[0]} has no video ({no_video[0]}{VIDEO_SUFFIX}) and {no_images} no decoded "
                f"frames ({no_images}/images/): every camera needs a video, or every camera its frames",
            )
        videos = {c.name: c.video for c in cams if c.video is not None}
        source = dynerf_videos.decoded_folder(root, videos, options, log)
        cams = camera_files(source)
        stride, most = 1, 0  # the decoded folder holds the chosen frames only
        fps = _fps_of(source, cams)
        notes.append(f"frames decoded from the videos into {source}")
        if [c.name for c in cams] != list(videos) or not all(c.images for c in cams):
            raise DatasetError(source, "lacks the decoded frames of some cameras; delete it to decode again")
    else:
        fps = _fps_of(root, cams)
        if fps is not None and dynerf_videos.read_record(root) is None:
            fps /= stride  # images decoded elsewhere, at the videos' rate
    frames_of = {c.name: _pick(c.images, stride, most) for c in cams}
    counts = {name: len(images) for name, images in frames_of.items()}
    dynerf_videos.check_synchronised(counts, source, "has cameras with different frame counts", "images")
    count = next(iter(counts.values()))
    held_out = HELD_OUT_CAMERA if HELD_OUT_CAMERA in counts else cams[0].name
    rule = split_rule(
        root, list(range(count)), list(counts),
        replace(
            options,
            val_cameras=options.val_cameras if options.val_cameras is not None else [held_out],
            test_frames=options.test_frames if options.test_frames is not None else [],
        ),
    )  # fmt: skip
    frames: list[Frame] = []
    for cam, pose in zip(cams, poses, strict=True):
        images = frames_of[cam.name]
        width, height = image_size(images[0])
        camera = _camera(cam.name, pose, width, height, root / POSES_FILE)
        for t, image in enumerate(images):
            time = t / (count - 1) if count > 1 else 0.0
            frames.append(Frame(image, None, camera, t, rule.split_of(cam.name, t), None, None, time))
    return Dataset(FORMAT, root, frames, None, "none", {}, rig_message=NOT_TRAINABLE, notes=notes, fps=fps)


def prepared_folder(root: Path, options: ReadOptions, log: dynerf_videos.Log | None = None) -> Path:
    """A DyNeRF folder that holds exactly the frames ``options`` choose, as images, for programs
    that take a folder and no options (the trainer): the decoded videos, a folder of links to a
    cut of decoded frames, or ``root`` itself when it already is that."""
    dataset = read(root, options, log=log)
    folder = dataset.frames[0].image_path.parents[2]  # <folder>/camNN/images/NNNN.png
    if folder != root:
        return folder  # the decoded videos
    if options.frame_stride == 1 and not options.max_frames:
        return root
    images = {c.name: c.images for c in camera_files(root)}
    return dynerf_videos.linked_cut(root, images, options, dataset.fps)
