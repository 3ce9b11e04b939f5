"""What ``track`` reads: frames from a video file or a folder of images (one camera), or a capture
folder with one subfolder (video or images) per camera; frames are numbered from 0 in order.

Videos are decoded with PyAV; a phone video's display rotation (metadata) is applied so faces are
upright. Frames with very uneven spacing (variable frame rate) are kept in order and said so.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.errors import DatasetError

LOG = logging.getLogger("training")

VIDEO_EXTS = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"}
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
VFR_SPREAD = 0.2  # frame spacing varying by more than this fraction of the median: variable rate


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def image_files(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()), key=_natural_key
    )


def read_image(path: Path) -> np.ndarray:
    """(H,W,3) uint8 RGB; an unreadable file is a DatasetError naming it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DatasetError(f"Image {path} cannot be read ({type(exc).__name__}).") from exc


@dataclass
class VideoInfo:
    fps: float | None = None
    rotation: int = 0  # degrees counter-clockwise applied to upright the frames
    variable_rate: bool = False


def _upright(image: np.ndarray, rotation: float) -> np.ndarray:
    quarter = round(rotation / 90.0) % 4
    return np.ascontiguousarray(np.rot90(image, quarter)) if quarter else image


def video_frames(path: Path, info: VideoInfo | None = None) -> Iterator[np.ndarray]:
    """Decoded RGB frames of a video file, upright; ``info`` is filled in as decoding goes."""
    import av

    info = info if info is not None else VideoInfo()
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise DatasetError(f"Video {path} cannot be opened ({exc.__class__.__name__}: {exc}).") from exc
    with container:
        if not container.streams.video:
            raise DatasetError(f"Video {path} has no video stream.")
        stream = container.streams.video[0]
        info.fps = float(stream.average_rate) if stream.average_rate else None
        times: list[float] = []
        try:
            for frame in container.decode(stream):
                info.rotation = int(getattr(frame, "rotation", 0) or 0)
                if frame.time is not None:
                    times.append(float(frame.time))
                    if len(times) > 3:
                        steps = np.diff(times)
                        median = float(np.median(steps))
                        if median > 0 and np.ptp(steps) > VFR_SPREAD * median and not info.variable_rate:
                            info.variable_rate = True
                            LOG.warning(
                                "%s has a variable frame rate: frames are tracked in order and written "
                                "at their average rate",
                                path.name,
                            )
                yield _upright(frame.to_ndarray(format="rgb24"), info.rotation)
        except av.error.FFmpegError as exc:
            raise DatasetError(f"Video {path} cannot be decoded past frame {len(times)} ({exc}).") from exc


def count_frames(source: Path | list[Path]) -> int | None:
    """Number of frames of a video, an image folder or a list of images (None when the container
    does not say)."""
    if isinstance(source, list):
        return len(source)
    if source.is_dir():
        return len(image_files(source))
    import av

    try:
        with av.open(str(source)) as c:
            n = c.streams.video[0].frames if c.streams.video else 0
            return int(n) or None
    except (av.error.FFmpegError, OSError):
        return None


def frames_of(source: Path | list[Path], info: VideoInfo | None = None) -> Iterator[np.ndarray]:
    """Frames of one camera: a video file, a folder of images in name order, or a list of images."""
    if isinstance(source, list):
        for f in source:
            yield read_image(f)
        return
    if source.is_dir():
        files = image_files(source)
        if not files:
            raise DatasetError(f"Folder {source} holds no images ({', '.join(sorted(IMAGE_EXTS))}).")
        for f in files:
            yield read_image(f)
        return
    if source.suffix.lower() in VIDEO_EXTS:
        yield from video_frames(source, info)
        return
    if source.suffix.lower() in IMAGE_EXTS:
        yield read_image(source)
        return
    raise DatasetError(
        f"{source} is neither a video ({', '.join(sorted(VIDEO_EXTS))}), an image nor a folder of images."
    )


def camera_sources(root: Path) -> dict[str, Path]:
    """A capture folder's cameras: subfolders of images, or video files, by name."""
    out: dict[str, Path] = {}
    for p in sorted(root.iterdir(), key=_natural_key):
        if p.is_dir() and image_files(p):
            out[p.name] = p
        elif p.is_file() and p.suffix.lower() in VIDEO_EXTS:
            out[p.stem] = p
    return out


def is_capture_folder(root: Path) -> bool:
    """A folder of per-camera subfolders / videos (and no images of its own)."""
    return root.is_dir() and not image_files(root) and bool(camera_sources(root))
