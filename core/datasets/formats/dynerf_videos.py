"""DyNeRF videos decoded once into a folder of images that is itself a DyNeRF scene
(``poses_bounds.npy`` + ``camNN/images/0000.png``), the layout 4DGaussians decodes to.

Decoding streams: one frame in memory at a time, each resized by libswscale (area filter) and
written as a PNG by FFmpeg's encoder, so neither Pillow nor the whole video is needed. The cache is
built under a temporary name and renamed when whole, with ``decoded.json`` recording the videos it
came from (size and modification time), the frame choice and the frame rate; a changed video or
another choice decodes again. PyAV is imported here only: Blender's Python has none, and there a
cache decoded earlier (by the trainer) is used instead.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...paths import default_cache_dir
from ...untrusted.errors import describe, display_path
from ..checks import load_json
from ..errors import DatasetError
from ..options import ReadOptions
from ..writers import atomic_write_bytes, atomic_write_text
from .llff_poses import POSES_FILE

DECODED_FILE = "decoded.json"
DECODED_FORMAT = "gavatar-decoded-frames"
CACHE_FOLDER = ".gavatar_frames"  # inside the dataset folder, beside the videos
VIDEO_LONG_SIDE = 1352  # the width 4DGaussians trains Neural 3D Video scenes at (2704 / 2)
MAX_FRAMES = 100_000
MAX_VIDEO_SIDE = 16_384  # 16K: beyond any capture camera; a header claiming more is damaged

Log = Callable[[str], None]


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    frames: int  # from the container header; 0 when it does not say
    fps: float | None


@dataclass(frozen=True)
class FrameChoice:
    stride: int
    max_frames: int  # 0: all
    downscale: int

    @property
    def key(self) -> str:
        return f"x{self.downscale}-every{self.stride}-max{self.max_frames or 'all'}"


def check_synchronised(counts: dict[str, int], source: Path, problem: str, unit: str) -> None:
    """DatasetError unless every camera has as many frames: ``problem`` names what differs, ``unit``
    what was counted (the cameras of a DyNeRF scene film in sync)."""
    if len(set(counts.values())) > 1:
        low, high = min(counts, key=counts.__getitem__), max(counts, key=counts.__getitem__)
        raise DatasetError(
            source,
            f"{problem} ({low}: {counts[low]} {unit}, {high}: {counts[high]}); "
            "the cameras of a DyNeRF scene are synchronised",
        )


def pyav() -> Any:
    """The PyAV module, or None where it is not installed."""
    try:
        import av
    except ImportError:
        return None
    return av


def _video_error(path: Path, exc: BaseException, what: str) -> DatasetError:
    return DatasetError(path, f"{what} ({describe(exc)})")


def probe(path: Path) -> VideoInfo:
    """Size, frame count and rate from the container header (no frame is decoded)."""
    av = pyav()
    assert av is not None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DatasetError(path, "holds no video stream")
            stream = container.streams.video[0]
            width, height = int(stream.codec_context.width), int(stream.codec_context.height)
            frames = int(stream.frames or 0)
            fps = float(stream.average_rate) if stream.average_rate else None
    except DatasetError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, TypeError, ZeroDivisionError) as exc:
        raise _video_error(path, exc, "cannot be opened as a video") from None
    if not (0 < width <= MAX_VIDEO_SIDE and 0 < height <= MAX_VIDEO_SIDE):
        raise DatasetError(
            path, f"has a video of {width}x{height} pixels; at most {MAX_VIDEO_SIDE} a side is read"
        )
    if frames > MAX_FRAMES:
        raise DatasetError(path, f"says it holds {frames} frames, more than the {MAX_FRAMES} read here")
    return VideoInfo(path, width, height, frames, fps if fps and 0.1 <= fps <= 1000 else None)


def check_choice(options: ReadOptions, where: Path) -> None:
    stride, most, scale = options.frame_stride, options.max_frames, options.video_downscale
    if not (isinstance(stride, int) and 1 <= stride <= MAX_FRAMES):
        raise DatasetError(where, f"frame stride {stride!r} should be a whole number from 1")
    if not (isinstance(most, int) and 0 <= most <= MAX_FRAMES):
        raise DatasetError(where, f"max frames {most!r} should be a whole number from 0 (all)")
    if not (isinstance(scale, int) and 0 <= scale <= 64):
        raise DatasetError(where, f"video downscale {scale!r} should be a whole number from 0 (auto) to 64")


def choose(infos: Mapping[str, VideoInfo], options: ReadOptions, where: Path) -> FrameChoice:
    """The frame choice of ``options``, the automatic downscale made explicit."""
    check_choice(options, where)
    stride, most, scale = options.frame_stride, options.max_frames, options.video_downscale
    if scale == 0:
        long_side = max(max(i.width, i.height) for i in infos.values())
        scale = max(1, math.ceil(long_side / VIDEO_LONG_SIDE))
    return FrameChoice(stride, most, scale)


def check_frame_counts(infos: Mapping[str, VideoInfo], where: Path) -> None:
    known = {name: i.frames for name, i in infos.items() if i.frames > 0}
    if len(set(known.values())) > 1:
        low = min(known, key=known.__getitem__)
        high = max(known, key=known.__getitem__)
        raise DatasetError(
            where,
            f"has videos of different lengths ({low}: {known[low]} frames, {high}: {known[high]}); "
            "the cameras of a DyNeRF scene are synchronised, every video the same length",
        )


def cache_parent(root: Path, options: ReadOptions) -> Path:
    """Where decoded frames go: the option, else inside the dataset folder when it is writable,
    else the user cache (one folder per dataset path)."""
    if options.frames_cache:
        return Path(options.frames_cache).expanduser()
    if os.access(root, os.W_OK):
        return root / CACHE_FOLDER
    import hashlib

    digest = hashlib.sha1(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return default_cache_dir() / "dynerf_frames" / f"{root.name}-{digest}"


def signature(videos: Mapping[str, Path]) -> dict[str, list[int]]:
    out = {}
    for name, path in videos.items():
        info = path.stat()
        out[name] = [int(info.st_size), int(info.st_mtime_ns)]
    return out


def read_record(folder: Path) -> dict[str, Any] | None:
    """``decoded.json`` of a decoded folder, or None when there is none or it is not ours."""
    path = folder / DECODED_FILE
    if not path.is_file():
        return None
    try:
        record = load_json(path)
    except DatasetError:
        return None
    if not isinstance(record, dict) or record.get("format") != DECODED_FORMAT:
        return None
    return record


def _cached(folder: Path, sig: Mapping[str, list[int]]) -> bool:
    record = read_record(folder)
    return record is not None and record.get("signature") == sig


def _png_bytes(av: Any, frame: Any) -> bytes:
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = frame.width, frame.height, "rgb24"
    # zlib level 1: a 1352x1014 frame in about 0.2 s instead of 0.9 s, files about 10 % larger
    codec.options = {"compression_level": "1"}
    packets = list(codec.encode(frame)) + list(codec.encode(None))
    return b"".join(bytes(p) for p in packets)


def _decode_camera(av: Any, info: VideoInfo, images: Path, choice: FrameChoice) -> int:
    """Writes the chosen frames of one video as ``images/0000.png`` ... and counts them. Decoding
    stops once ``max_frames`` are kept (a 60-frame cut of a long video decodes 60 frames)."""
    images.mkdir(parents=True)
    size = (max(1, round(info.width / choice.downscale)), max(1, round(info.height / choice.downscale)))
    kept = index = 0
    try:
        with av.open(str(info.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if index % choice.stride == 0:
                    if choice.max_frames and kept >= choice.max_frames:
                        return kept
                    rgb = frame.reformat(width=size[0], height=size[1], format="rgb24", interpolation="AREA")
                    (images / f"{kept:04d}.png").write_bytes(_png_bytes(av, rgb))
                    kept += 1
                index += 1
                if index > MAX_FRAMES:
                    raise DatasetError(info.path, f"holds more than the {MAX_FRAMES} frames read here")
    except DatasetError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, TypeError, MemoryError) as exc:
        raise _video_error(info.path, exc, f"cannot be decoded past frame {index}") from None
    if kept == 0:
        raise DatasetError(info.path, "holds no frames that could be decoded")
    return kept


def _remove_stale(parent: Path, key: str) -> None:
    """Half-decoded folders of processes that are gone (a killed run leaves one behind)."""
    for partial in parent.glob(f"{key}.partial-*"):
        try:
            os.kill(int(partial.name.rsplit("-", 1)[1]), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(partial, ignore_errors=True)
        except PermissionError:
            pass  # another user's live process


def decode(
    root: Path, videos: Mapping[str, Path], infos: Mapping[str, VideoInfo], choice: FrameChoice,
    target: Path, log: Log | None = None,
) -> Path:  # fmt: skip
    """Decodes every video into ``target`` (built beside it under a temporary name)."""
    av = pyav()
    assert av is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target.parent, target.name)
    partial = target.parent / f"{target.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        counts: dict[str, int] = {}
        for n, (name, info) in enumerate(infos.items()):
            if log is not None:
                log(f"decoding {name} ({n + 1}/{len(infos)}) at 1/{choice.downscale} size")
            counts[name] = _decode_camera(av, info, partial / name / "images", choice)
        check_synchronised(counts, root, "has videos of different lengths", "frames kept")
        atomic_write_bytes(partial / POSES_FILE, (root / POSES_FILE).read_bytes())
        rates = {i.fps for i in infos.values() if i.fps}
        record = {
            "format": DECODED_FORMAT, "version": 1, "source": str(root), "signature": signature(videos),
            "frame_stride": choice.stride, "max_frames": choice.max_frames, "downscale": choice.downscale,
            "frames": next(iter(counts.values())), "cameras": list(counts),
            "fps": (min(rates) / choice.stride) if rates else None,
        }  # fmt: skip
        _publish(partial, target, record)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise DatasetError(target, f"cannot hold the decoded frames ({describe(exc)})") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target


def _publish(partial: Path, target: Path, record: dict) -> None:
    """Write the finished folder's record, then put the folder in place of ``target`` in one
    rename, so a reader never meets half a folder."""
    atomic_write_text(partial / DECODED_FILE, json.dumps(record, indent=1))
    if target.exists():
        shutil.rmtree(target)
    os.replace(partial, target)


def decoded_folder(
    root: Path, videos: Mapping[str, Path], options: ReadOptions, log: Log | None = None
) -> Path:
    """A folder of the scene's frames as images (decoding the videos the first time), for the
    frame choice of ``options``."""
    parent = cache_parent(root, options)
    sig = signature(videos)
    if pyav() is None:
        return _decoded_earlier(root, parent, sig, options)
    infos = {name: probe(path) for name, path in videos.items()}
    check_frame_counts(infos, root)
    choice = choose(infos, options, root)
    target = parent / choice.key
    if _cached(target, sig):
        return target
    return decode(root, videos, infos, choice, target, log)


def linked_cut(root: Path, images: Mapping[str, list[Path]], options: ReadOptions, fps: float | None) -> Path:
    """A folder holding links to the chosen frames of an already decoded copy (every
    ``frame_stride``-th, at most ``max_frames``), so a program that reads whole folders (the
    trainer) sees the cut. Rebuilt each time: links cost nothing."""
    stride, most = options.frame_stride, options.max_frames
    target = cache_parent(root, options) / f"linked-every{stride}-max{most or 'all'}"
    partial = target.parent / f"{target.name}.partial-{os.getpid()}"
    try:
        shutil.rmtree(partial, ignore_errors=True)
        counts = {}
        for name, files in images.items():
            chosen = files[::stride][: most or None]
            folder = partial / name / "images"
            folder.mkdir(parents=True)
            for k, source in enumerate(chosen):
                (folder / f"{k:04d}{source.suffix.lower()}").symlink_to(source.resolve())
            counts[name] = len(chosen)
        atomic_write_bytes(partial / POSES_FILE, (root / POSES_FILE).read_bytes())
        record = {
            "format": DECODED_FORMAT, "version": 1, "source": str(root), "signature": {},
            "frame_stride": stride, "max_frames": most, "downscale": 1, "cameras": list(counts),
            "frames": min(counts.values(), default=0), "fps": fps,
        }  # fmt: skip
        _publish(partial, target, record)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise DatasetError(target, f"cannot hold the links to the chosen frames ({describe(exc)})") from None
    return target


def _decoded_earlier(root: Path, parent: Path, sig: Mapping[str, list[int]], options: ReadOptions) -> Path:
    """Without PyAV (Blender): a cache of these very videos that the trainer decoded, the one of
    the asked frame choice when there, else the one with most frames."""
    found = [f for f in sorted(parent.glob("x*-every*-max*")) if f.is_dir() and _cached(f, sig)]
    asked = f"-every{options.frame_stride}-max{options.max_frames or 'all'}"
    wanted = [f for f in found if f.name.endswith(asked)]
    if wanted or found:
        return (wanted or sorted(found, key=lambda f: int((read_record(f) or {}).get("frames", 0))))[-1]
    raise DatasetError(
        root,
        "holds videos that have not been decoded yet, and this Python has no PyAV to decode them "
        "(Blender's has none; the trainer's gets it from training/requirements.txt): train "
        f"the folder as a 4D sequence with PyAV installed (it decodes into {display_path(parent)}), "
        "or give a copy with camNN/images/ folders",
    )
