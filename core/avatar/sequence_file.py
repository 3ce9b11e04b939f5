"""The 4D sequence file (``.gavatar4d``): Gaussians baked at every frame of a sequence.

A zip (stored, not compressed, written atomically) holding
- ``header.json``: ``{"format": "gaussian-sequence", "version": 1, "num_gaussians", "num_frames",
  "fps", "times" (each frame's normalised time), "sh_degree", "box" ([min xyz, max xyz] of the
  quantised means), "up_axis" ("Y": the dataset's Y-up world), "background", "trainer",
  "metrics"}``;
- ``static/sh.npy`` (G, (d+1)^2, 3) float32: colour does not change over time;
- ``frames/means.npy`` (T, G, 3) uint16: means quantised in ``box`` (a step of box / 65535);
- ``frames/quats.npy`` (T, G, 4), ``frames/log_scales.npy`` (T, G, 3),
  ``frames/opacity.npy`` (T, G) float16 (opacity logits).

Why baked frames rather than the field's weights: the engine already draws Gaussians it is handed
per frame (bound avatars upload theirs each frame), so a frame is a slice of four arrays and no
shader evaluates planes and MLPs; any tool can read the arrays; and the cost, size growing with
the frame count, stays small at 22 bytes per Gaussian and frame. Members are stored, so a reader
maps a frame straight out of the file (``SequenceFile.frame``) without loading the sequence.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .gaussians import GaussianSet

FORMAT = "gaussian-sequence"
VERSION = 1
SUFFIX = ".gavatar4d"
QUANT = 65535.0
FRAME_MEMBERS = {  # name -> (trailing shape with G, dtype)
    "means": ((3,), np.uint16),
    "quats": ((4,), np.float16),
    "log_scales": ((3,), np.float16),
    "opacity": ((), np.float16),
}
BYTES_PER_GAUSSIAN_FRAME = sum(
    int(np.prod(s or (1,))) * np.dtype(d).itemsize for s, d in FRAME_MEMBERS.values()
)


class SequenceFileError(ValueError):
    """A sequence file that cannot be read or written; the message says why in one sentence."""


@dataclass
class FrameArrays:
    """One frame: float32 means (G,3), quats (G,4), log_scales (G,3), opacity logits (G,)."""

    means: np.ndarray
    quats: np.ndarray
    log_scales: np.ndarray
    opacity_logits: np.ndarray


def write_sequence(
    path: str | os.PathLike[str],
    sh: np.ndarray,
    means: np.ndarray,
    quats: np.ndarray,
    log_scales: np.ndarray,
    opacity_logits: np.ndarray,
    *,
    fps: float,
    times: Sequence[float],
    extra_header: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a sequence of T frames of G Gaussians atomically; returns the header written."""
    means = np.asarray(means, dtype=np.float64)
    t, g = means.shape[:2]
    sh = np.asarray(sh, dtype=np.float32)
    shapes = {"means": (t, g, 3), "quats": (t, g, 4), "log_scales": (t, g, 3), "opacity": (t, g)}
    arrays = {"means": means, "quats": quats, "log_scales": log_scales, "opacity": opacity_logits}
    for name, shape in shapes.items():
        if np.shape(arrays[name]) != shape:
            raise SequenceFileError(f"{name} has shape {np.shape(arrays[name])}, expected {shape}")
        if not np.isfinite(arrays[name]).all():
            raise SequenceFileError(f"{name} holds NaN or infinite values")
    degree = round(math.sqrt(sh.shape[1])) - 1 if sh.ndim == 3 else -1
    if sh.shape != (g, (degree + 1) ** 2, 3) or not 0 <= degree <= 3:
        raise SequenceFileError(f"sh has shape {sh.shape}, expected ({g}, (degree+1)^2, 3)")
    if len(times) != t or not fps > 0:
        raise SequenceFileError(f"need {t} frame times and a positive fps (got {len(times)}, {fps})")
    lo, hi = means.reshape(-1, 3).min(0), means.reshape(-1, 3).max(0)
    hi = np.maximum(hi, lo + 1e-6)
    quantised = np.rint((means - lo) / (hi - lo) * QUANT).astype(np.uint16)
    header = {
        **(extra_header or {}),
        "format": FORMAT, "version": VERSION, "num_gaussians": g, "num_frames": t, "fps": float(fps),
        "times": [float(x) for x in times], "sh_degree": degree, "box": [lo.tolist(), hi.tolist()],
    }  # fmt: skip
    header.setdefault("up_axis", "Y")
    with atomic_write(path) as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("header.json", json.dumps(header, indent=1, default=_plain))
        _write_npy(archive, "static/sh.npy", sh)
        _write_npy(archive, "frames/means.npy", quantised)
        for name in ("quats", "log_scales", "opacity"):
            _write_npy(archive, f"frames/{name}.npy", np.asarray(arrays[name], dtype=np.float16))
    return header


def _get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write_npy(archive: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with archive.open(name, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


class SequenceFile:
    """An open sequence file; ``frame(k)`` maps frame k out of the file (no full load).

    Opening checks what can be checked cheaply (zip structure, header, member shapes and types);
    ``verify()`` reads every byte once (the zip's checksums, and finite values)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        label = str(self.path)
        if not self.path.is_file():
            raise SequenceFileError(f"{label} does not exist")
        try:
            with zipfile.ZipFile(self.path) as archive:
                self.header = self._header(archive, label)
                self.members = {i.filename: i for i in archive.infolist()}
                self.sh = self._read_npy(archive, "static/sh.npy", label)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise SequenceFileError(f"{label} is not a readable sequence file ({exc})") from None
        g, t = self.num_gaussians, self.num_frames
        degree = int(self.header["sh_degree"])
        if self.sh.shape != (g, (degree + 1) ** 2, 3) or self.sh.dtype != np.float32:
            raise SequenceFileError(
                f"{label}: static/sh.npy is {self.sh.shape} {self.sh.dtype}, "
                f"expected ({g}, {(degree + 1) ** 2}, 3) float32"
            )
        if not np.isfinite(self.sh).all():
            raise SequenceFileError(f"{label}: the colours hold NaN or infinite values")
        self.box = np.asarray(self.header["box"], dtype=np.float64)
        self.frames: dict[str, np.memmap] = {}
        for name, (trailing, dtype) in FRAME_MEMBERS.items():
            self.frames[name] = self._map(name, (t, g, *trailing), dtype, label)

    # --- header and members -----------------------------------------------------------------
    @staticmethod
    def _header(archive: zipfile.ZipFile, label: str) -> dict[str, Any]:
        try:
            header = json.loads(archive.read("header.json"))
        except KeyError:
            raise SequenceFileError(f"{label} has no header.json: not a Gaussian sequence file") from None
        except (ValueError, zipfile.BadZipFile) as exc:
            raise SequenceFileError(f"{label}: header.json is damaged ({exc})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise SequenceFileError(
                f"{label} is not a Gaussian sequence file (format {_get(header, 'format')!r})"
            )
        if header.get("version") != VERSION:
            raise SequenceFileError(
                f"{label} has sequence version {header.get('version')!r}; this add-on reads {VERSION}"
            )
        try:
            g, t, fps = int(header["num_gaussians"]), int(header["num_frames"]), float(header["fps"])
            box = np.asarray(header["box"], dtype=np.float64)
            times = [float(x) for x in header["times"]]
            degree = int(header["sh_degree"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SequenceFileError(f"{label}: header.json lacks or garbles {exc}") from None
        if g < 1 or t < 1 or not fps > 0 or box.shape != (2, 3) or len(times) != t or not 0 <= degree <= 3:
            raise SequenceFileError(f"{label}: header.json has impossible sizes (G {g}, T {t}, fps {fps})")
        if not np.isfinite(box).all() or (box[1] < box[0]).any():
            raise SequenceFileError(f"{label}: header.json has a broken box {box.tolist()}")
        return header

    @staticmethod
    def _read_npy(archive: zipfile.ZipFile, name: str, label: str) -> np.ndarray:
        try:
            with archive.open(name) as member:
                return np.lib.format.read_array(member, allow_pickle=False)
        except KeyError:
            raise SequenceFileError(f"{label} lacks {name}") from None
        except (ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise SequenceFileError(f"{label}: {name} is damaged ({exc})") from None

    def _map(self, name: str, shape: tuple[int, ...], dtype: type, label: str) -> np.memmap:
        member = f"frames/{name}.npy"
        info = self.members.get(member)
        if info is None:
            raise SequenceFileError(f"{label} lacks {member}")
        if info.compress_type != zipfile.ZIP_STORED:
            raise SequenceFileError(f"{label}: {member} is compressed; sequence members must be stored")
        with open(self.path, "rb") as handle:
            handle.seek(info.header_offset)
            local = handle.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                raise SequenceFileError(f"{label}: {member} is damaged (no local header)")
            name_len, extra_len = (
                int.from_bytes(local[26:28], "little"),
                int.from_bytes(local[28:30], "little"),
            )
            start = info.header_offset + 30 + name_len + extra_len
            handle.seek(start)
            try:
                version = np.lib.format.read_magic(handle)
                read = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                got_shape, fortran, got_dtype = read(handle)
            except ValueError as exc:
                raise SequenceFileError(f"{label}: {member} is damaged ({exc})") from None
            data_start = handle.tell()
        if tuple(got_shape) != shape or np.dtype(got_dtype) != np.dtype(dtype) or fortran:
            raise SequenceFileError(
                f"{label}: {member} is {tuple(got_shape)} {got_dtype}, expected {shape} {np.dtype(dtype)}"
            )
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if data_start - start + size != info.file_size or data_start + size > self.path.stat().st_size:
            raise SequenceFileError(f"{label}: {member} is truncated")
        return np.memmap(self.path, dtype=dtype, mode="r", offset=data_start, shape=shape)

    # --- sizes ----------------------------------------------------------------------------------
    @property
    def num_gaussians(self) -> int:
        return int(self.header["num_gaussians"])

    @property
    def num_frames(self) -> int:
        return int(self.header["num_frames"])

    @property
    def fps(self) -> float:
        return float(self.header["fps"])

    @property
    def sh_degree(self) -> int:
        return int(self.header["sh_degree"])

    @property
    def y_up(self) -> bool:
        return self.header.get("up_axis", "Y") == "Y"

    # --- frames ---------------------------------------------------------------------------------
    def frame(self, index: int) -> FrameArrays:
        """Frame ``index`` (clamped to the sequence) as float32 arrays."""
        k = min(max(int(index), 0), self.num_frames - 1)
        lo, hi = self.box
        means = (lo + self.frames["means"][k].astype(np.float64) * ((hi - lo) / QUANT)).astype(np.float32)
        out = FrameArrays(
            means,
            self.frames["quats"][k].astype(np.float32),
            self.frames["log_scales"][k].astype(np.float32),
            self.frames["opacity"][k].astype(np.float32),
        )
        for name in ("quats", "log_scales", "opacity_logits"):
            if not np.isfinite(getattr(out, name)).all():
                raise SequenceFileError(f"{self.path}: frame {k} holds NaN or infinite {name}")
        return out

    def gaussians(self, index: int) -> GaussianSet:
        f = self.frame(index)
        return GaussianSet(
            means=f.means, quats=f.quats, log_scales=f.log_scales, opacity_logits=f.opacity_logits, sh=self.sh
        )

    def verify(self) -> None:
        """Read every member once: the zip's checksums and finite per-frame values."""
        try:
            with zipfile.ZipFile(self.path) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError) as exc:
            raise SequenceFileError(f"{self.path} is not a readable sequence file ({exc})") from None
        if bad is not None:
            raise SequenceFileError(f"{self.path}: {bad} is damaged (checksum mismatch)")
        for name in ("quats", "log_scales", "opacity"):
            if not np.isfinite(self.frames[name]).all():
                raise SequenceFileError(f"{self.path}: frames/{name}.npy holds NaN or infinite values")


def frame_index(
    scene_frame: float, start: int, scene_fps: float, sequence_fps: float, count: int, loop: bool
) -> int:
    """The sequence frame shown at ``scene_frame`` when the sequence starts at scene frame
    ``start``: nearest frame in time, held at both ends (or wrapped with ``loop``)."""
    k = math.floor((scene_frame - start) * sequence_fps / scene_fps + 0.5)
    if loop:
        return k % count
    return min(max(k, 0), count - 1)
