"""The 4D sequence file (``.gavatar4d``): Gaussians baked at every frame of a sequence.

A zip (stored, not compressed, written atomically by core/avatar/sequence_writer.py) holding
``header.json``: ``{"format": "gaussian-sequence", "version": 3, "num_gaussians" G, "num_frames" T,
"fps", "times" (each frame's normalised time), "sh_degree", "box" ([min xyz, max xyz] of the
quantised means), "up_axis" ("Y": the dataset's Y-up world), "background", "trainer", "metrics"}``
and ``static/sh.npy`` (G, (d+1)^2, 3) float16 (colour does not change over time; float32 before
version 3). Means are uint16
in ``box`` (a step of box / 65535); rotations (w,x,y,z), log scales and opacity logits float16.

Version 2 and later store what does not change once. ``static/means.npy`` (G, 3) uint16,
``static/quats.npy`` (G, 4), ``static/log_scales.npy`` (G, 3), ``static/opacity.npy`` (G,) float16
are what every Gaussian shows at a frame that does not list it. The frames list only the Gaussians
whose values they change: ``frames/listed.npy`` (T, ceil(G/8)) uint8, frame k's set of Gaussians
as bits (bit j of byte i is Gaussian 8i+j; the bits past G are zero), ``frames/offsets.npy``
(T+1,) int64 (frame k's entries are rows offsets[k]:offsets[k+1], one per set bit, in Gaussian
order), ``frames/means.npy`` (N, 3) uint16, ``frames/quats.npy`` (N, 4), ``frames/log_scales.npy``
(N, 3), ``frames/opacity.npy`` (N,) float16. A still Gaussian is in no frame; one that moves is
listed at the frames where it is visible and hidden (its static opacity is about zero) at the
others. 22 bytes per listed entry plus a bit per Gaussian and frame; a set of bits cannot name a
Gaussian twice or out of order, so the index needs no more checks than its padding and counts.

Version 1 (still read): no static values and no listing; ``frames/means.npy`` (T, G, 3) uint16 and
the other frame members (T, G, ...): every Gaussian at every frame.

Why baked frames rather than the field's weights: the engine already draws Gaussians it is handed
per frame (bound avatars upload theirs each frame), so a frame is a slice of a few arrays and no
shader evaluates planes and MLPs; any tool can read the arrays. Members are stored, so a reader
maps a frame straight out of the file (``SequenceFile.frame``) without loading the sequence.
Opening checks the zip, the header, every member's shape and type, the offsets and the static
values; ``frame(k)`` checks its own entries (the listing's padding and count, finite values); ``verify()``
reads every byte once.
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..untrusted import json_text
from ..untrusted.errors import DAMAGED, InputError, describe, display_path, short
from ..untrusted.npz import read_header
from .gaussians import GaussianSet

FORMAT = "gaussian-sequence"
VERSION = 3
READ_VERSIONS = (1, 2, 3)
SH_DTYPE = {1: np.float32, 2: np.float32, 3: np.float16}  # the colours' type by version
MAX_HEADER_BYTES = 16 * 2**20  # a header holds the trainer's config and metrics: kilobytes
MAX_COORDINATE = 1e15  # a box past this loses float32 means (and is no scene anyone baked)
SUFFIX = ".gavatar4d"
QUANT = 65535.0
FRAME_MEMBERS = {  # name -> (trailing shape, dtype): per Gaussian and frame (v1) or per entry (v2)
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


def dequantise(quantised: np.ndarray, box: np.ndarray) -> np.ndarray:
    lo, hi = np.asarray(box, dtype=np.float64)
    step = ((hi - lo) / QUANT).astype(np.float32)
    return lo.astype(np.float32) + quantised.astype(np.float32) * step


def _rows(array: np.ndarray) -> np.ndarray:
    """A C-contiguous (N, ...) array as N opaque rows: scattering whole rows at once is several
    times faster than numpy's fancy indexing over the trailing axis."""
    if array.ndim == 1:
        return array
    return array.view(np.dtype((np.void, array.itemsize * int(np.prod(array.shape[1:]))))).reshape(len(array))


def _get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


class SequenceFile:
    """An open sequence file; ``frame(k)`` maps frame k out of the file (no full load)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.label = label = display_path(self.path)
        if not self.path.is_file():
            what = "is not a file" if self.path.exists() else "does not exist"
            raise SequenceFileError(f"{label} {what}")
        try:
            with zipfile.ZipFile(self.path) as archive:
                self.members = {i.filename: i for i in archive.infolist()}
                encrypted = [name for name, info in self.members.items() if info.flag_bits & 0x1]
                if encrypted:
                    raise SequenceFileError(f"{label}: {short(encrypted[0], 60)} is encrypted")
                self.header = self._header(archive, label)
        except SequenceFileError:
            raise
        except DAMAGED as exc:
            raise SequenceFileError(f"{label} is not a readable sequence file ({describe(exc)})") from None
        g, t = self.num_gaussians, self.num_frames
        self.version = int(self.header["version"])
        self.box = np.asarray(self.header["box"], dtype=np.float64)
        sh_shape = (g, (self.sh_degree + 1) ** 2, 3)
        self.sh = np.array(self._map("static/sh.npy", sh_shape, SH_DTYPE[self.version]), dtype=np.float32)
        if not np.isfinite(self.sh).all():
            raise SequenceFileError(f"{label}: the colours hold NaN or infinite values")
        self.still: FrameArrays | None = None  # version 2: what a frame that does not list a Gaussian shows
        self.offsets: np.ndarray | None = None
        self.bits: np.ndarray | None = None  # version 2: (T, ceil(G/8)) the listing
        rows: tuple[int, ...] = (t, g)
        if self.version >= 2:
            self.still = self._read_static()
            self.offsets = self._read_offsets()
            rows = (int(self.offsets[-1]),)
            self.bits = self._map("frames/listed.npy", (t, (g + 7) // 8), np.uint8)
        self.frames: dict[str, np.ndarray] = {}
        for name, (trailing, dtype) in FRAME_MEMBERS.items():
            self.frames[name] = self._map(f"frames/{name}.npy", (*rows, *trailing), dtype)

    # --- header and members -----------------------------------------------------------------
    @staticmethod
    def _header(archive: zipfile.ZipFile, label: str) -> dict[str, Any]:
        try:
            info = archive.getinfo("header.json")
        except KeyError:
            raise SequenceFileError(f"{label} has no header.json: not a Gaussian sequence file") from None
        if info.file_size > MAX_HEADER_BYTES:
            raise SequenceFileError(f"{label}: header.json is larger than a header can be")
        try:  # Python's json writes NaN for a metric that was not measured: allowed here
            header = json_text.loads(archive.read(info).decode("utf-8"), allow_constants=True)
        except InputError as exc:
            raise SequenceFileError(f"{label}: header.json {exc.problem}") from None
        except DAMAGED as exc:
            raise SequenceFileError(f"{label}: header.json is damaged ({describe(exc)})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise SequenceFileError(
                f"{label} is not a Gaussian sequence file (format {_get(header, 'format')!r})"
            )
        if header.get("version") not in READ_VERSIONS or isinstance(header.get("version"), bool):
            raise SequenceFileError(
                f"{label} has sequence version {header.get('version')!r}; this add-on reads "
                f"{' and '.join(map(str, READ_VERSIONS))}"
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
        if not np.isfinite(box).all() or (box[1] < box[0]).any() or np.abs(box).max() > MAX_COORDINATE:
            raise SequenceFileError(f"{label}: header.json has a broken box {short(box.tolist(), 80)}")
        return header

    def _read_static(self) -> FrameArrays:
        """Version 2's per-Gaussian values (small: read whole, checked, kept as float32)."""
        arrays = {}
        for name, (trailing, dtype) in FRAME_MEMBERS.items():
            member = f"static/{name}.npy"
            arrays[name] = np.array(self._map(member, (self.num_gaussians, *trailing), dtype))
            if not np.isfinite(arrays[name]).all():
                raise SequenceFileError(f"{self.label}: {member} holds NaN or infinite values")
        return FrameArrays(
            dequantise(arrays["means"], self.box),
            arrays["quats"].astype(np.float32),
            arrays["log_scales"].astype(np.float32),
            arrays["opacity"].astype(np.float32),
        )

    def _read_offsets(self) -> np.ndarray:
        g = self.num_gaussians
        offsets = np.array(self._map("frames/offsets.npy", (self.num_frames + 1,), np.int64))
        counts = np.diff(offsets)
        if offsets[0] != 0 or (counts < 0).any() or (counts > g).any():
            raise SequenceFileError(
                f"{self.label}: frames/offsets.npy is broken (each frame lists 0 to {g} entries, in order)"
            )
        return offsets

    def _map(self, member: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        label = self.label
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
                header = read_header(handle, member)
            except InputError as exc:
                raise SequenceFileError(f"{label}: {member} is damaged (it {exc.problem})") from None
            data_start = handle.tell()
        if header.shape != shape or header.dtype != np.dtype(dtype) or header.fortran:
            raise SequenceFileError(
                f"{label}: {member} is {header.shape} {header.dtype}, expected {shape} {np.dtype(dtype)}"
            )
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if data_start - start + size != info.file_size or data_start + size > self.path.stat().st_size:
            raise SequenceFileError(f"{label}: {member} is truncated")
        if size == 0:  # nothing listed: numpy cannot map zero bytes
            return np.zeros(shape, dtype=dtype)
        return np.memmap(self.path, dtype=dtype, mode="r", offset=data_start, shape=shape)

    # --- sizes ----------------------------------------------------------------------------------
    @property
    def num_gaussians(self) -> int:
        return int(self.header["num_gaussians"])

    @property
    def num_frames(self) -> int:
        return int(self.header["num_frames"])

    @property
    def num_entries(self) -> int:
        """Gaussian values the frames store (T x G in version 1)."""
        return self.num_frames * self.num_gaussians if self.offsets is None else int(self.offsets[-1])

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
    def listed(self, index: int) -> np.ndarray:
        """The Gaussians frame ``index`` stores (every one in version 1), checked."""
        k = min(max(int(index), 0), self.num_frames - 1)
        g = self.num_gaussians
        if self.offsets is None or self.bits is None:
            return np.arange(g)
        bits = np.unpackbits(np.asarray(self.bits[k]), bitorder="little")
        if bits[g:].any():
            raise SequenceFileError(f"{self.label}: frame {k} lists Gaussians past the last one ({g})")
        chosen = np.flatnonzero(bits)
        if len(chosen) != self.offsets[k + 1] - self.offsets[k]:
            raise SequenceFileError(
                f"{self.label}: frame {k} lists {len(chosen)} Gaussians but stores "
                f"{self.offsets[k + 1] - self.offsets[k]} entries"
            )
        return chosen

    def frame(self, index: int) -> FrameArrays:
        """Frame ``index`` (clamped to the sequence) as float32 arrays."""
        k = min(max(int(index), 0), self.num_frames - 1)
        rows: int | slice = k  # version 1: frame k of (T, G, ...)
        if self.still is not None and self.offsets is not None:
            rows = slice(int(self.offsets[k]), int(self.offsets[k + 1]))
        values = FrameArrays(
            dequantise(self.frames["means"][rows], self.box),
            self.frames["quats"][rows].astype(np.float32),
            self.frames["log_scales"][rows].astype(np.float32),
            self.frames["opacity"][rows].astype(np.float32),
        )
        for name in ("means", "quats", "log_scales", "opacity_logits"):
            if not np.isfinite(getattr(values, name)).all():
                raise SequenceFileError(f"{self.label}: frame {k} holds NaN or infinite {name}")
        if self.still is None:
            return values
        chosen = self.listed(k)
        if len(chosen) == self.num_gaussians:
            return values
        out = FrameArrays(*(getattr(self.still, n).copy() for n in FrameArrays.__dataclass_fields__))
        for name in FrameArrays.__dataclass_fields__:
            _rows(getattr(out, name))[chosen] = _rows(np.ascontiguousarray(getattr(values, name)))
        return out

    def gaussians(self, index: int) -> GaussianSet:
        f = self.frame(index)
        return GaussianSet(
            means=f.means, quats=f.quats, log_scales=f.log_scales, opacity_logits=f.opacity_logits, sh=self.sh
        )

    def verify(self) -> None:
        """Read every member once: the zip's checksums, finite values, every frame's listing."""
        try:
            with zipfile.ZipFile(self.path) as archive:
                bad = archive.testzip()
        except DAMAGED as exc:
            problem = describe(exc)
            raise SequenceFileError(f"{self.label} is not a readable sequence file ({problem})") from None
        if bad is not None:
            raise SequenceFileError(f"{self.label}: {bad} is damaged (checksum mismatch)")
        for name in ("quats", "log_scales", "opacity"):
            if not np.isfinite(self.frames[name]).all():
                raise SequenceFileError(f"{self.label}: frames/{name}.npy holds NaN or infinite values")
        for k in range(self.num_frames if self.offsets is not None else 0):
            self.listed(k)


def frame_index(
    scene_frame: float, start: int, scene_fps: float, sequence_fps: float, count: int, loop: bool
) -> int:
    """The sequence frame shown at ``scene_frame`` when the sequence starts at scene frame
    ``start``: nearest frame in time, held at both ends (or wrapped with ``loop``)."""
    k = math.floor((scene_frame - start) * sequence_fps / scene_fps + 0.5)
    if loop:
        return k % count
    return min(max(k, 0), count - 1)
