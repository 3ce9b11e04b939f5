"""Writing a 4D sequence file (``.gavatar4d``, version 3; the layout is in core/avatar/sequence_file.py).

The caller hands every Gaussian at every frame and says which ones each frame stores (``listed``,
chosen by core/avatar/sequence_split.py); the writer stores a Gaussian listed at no frame once,
at its value held over time, and hides a listed one at the frames that do not list it.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.plain_json import plain

from .atomic import atomic_write
from .sequence_file import FORMAT, QUANT, SH_DTYPE, VERSION, SequenceFileError
from .sequence_split import LOGIT_LIMIT, held_values

HIDDEN_LOGIT = -LOGIT_LIMIT  # opacity 1e-13: what a listed Gaussian shows at frames that skip it


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
    listed: np.ndarray | None = None,
    extra_header: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write T frames of G Gaussians atomically (``listed`` (T, G) bool: which Gaussians each frame
    stores; None: all of them); returns the header written."""
    means = np.asarray(means)  # float32 frames stay float32: only the stored entries are widened
    if means.ndim != 3:
        raise SequenceFileError(f"means has shape {means.shape}, expected (T, G, 3)")
    t, g = means.shape[:2]
    sh = np.asarray(sh, dtype=np.float32)
    if not np.isfinite(sh).all() or np.abs(sh).max(initial=0.0) > np.finfo(np.float16).max:
        raise SequenceFileError("sh holds NaN, infinite or out-of-range (> 65504) colours")
    shapes = {"means": (t, g, 3), "quats": (t, g, 4), "log_scales": (t, g, 3), "opacity": (t, g)}
    arrays = {"means": means, "quats": quats, "log_scales": log_scales, "opacity": opacity_logits}
    for name, shape in shapes.items():
        if np.shape(arrays[name]) != shape:
            raise SequenceFileError(f"{name} has shape {np.shape(arrays[name])}, expected {shape}")
        if not all(np.isfinite(frame).all() for frame in arrays[name]):  # frame by frame: maps stay on disk
            raise SequenceFileError(f"{name} holds NaN or infinite values")
    degree = round(math.sqrt(sh.shape[1])) - 1 if sh.ndim == 3 else -1
    if sh.shape != (g, (degree + 1) ** 2, 3) or not 0 <= degree <= 3:
        raise SequenceFileError(f"sh has shape {sh.shape}, expected ({g}, (degree+1)^2, 3)")
    if len(times) != t or not fps > 0:
        raise SequenceFileError(f"need {t} frame times and a positive fps (got {len(times)}, {fps})")
    listed = np.ones((t, g), bool) if listed is None else np.asarray(listed, dtype=bool)
    if listed.shape != (t, g):
        raise SequenceFileError(f"listed has shape {listed.shape}, expected {(t, g)}")

    held = held_values(means, quats, log_scales, arrays["opacity"])
    held.opacity_logits[listed.any(axis=0)] = HIDDEN_LOGIT
    frame_of, gaussian = np.nonzero(listed)  # frame-major: each frame's Gaussians in order
    offsets = np.concatenate([[0], np.cumsum(listed.sum(axis=1))]).astype(np.int64)
    entries = {name: np.asarray(arrays[name])[frame_of, gaussian] for name in arrays}

    entries["means"] = entries["means"].astype(np.float64)
    everywhere = np.concatenate([held.means, entries["means"]])
    lo, hi = everywhere.min(0), everywhere.max(0)
    hi = np.maximum(hi, lo + 1e-6)

    def quantise(values: np.ndarray) -> np.ndarray:
        return np.rint((values - lo) / (hi - lo) * QUANT).clip(0, QUANT).astype(np.uint16)

    header = {
        **(extra_header or {}),
        "format": FORMAT, "version": VERSION, "num_gaussians": g, "num_frames": t, "fps": float(fps),
        "times": [float(x) for x in times], "sh_degree": degree, "box": [lo.tolist(), hi.tolist()],
    }  # fmt: skip
    header.setdefault("up_axis", "Y")
    static = {
        "means": quantise(held.means),
        "quats": held.quats.astype(np.float16),
        "log_scales": held.log_scales.astype(np.float16),
        "opacity": held.opacity_logits.astype(np.float16),
    }
    with atomic_write(path) as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("header.json", json.dumps(header, indent=1, default=plain))
        _write_npy(archive, "static/sh.npy", sh.astype(SH_DTYPE[VERSION]))
        for name, values in static.items():
            _write_npy(archive, f"static/{name}.npy", values)
        _write_npy(archive, "frames/offsets.npy", offsets)
        _write_npy(archive, "frames/listed.npy", np.packbits(listed, axis=1, bitorder="little"))
        _write_npy(archive, "frames/means.npy", quantise(entries["means"]))
        for name in ("quats", "log_scales", "opacity"):
            _write_npy(archive, f"frames/{name}.npy", entries[name].astype(np.float16))
    return header


def _write_npy(archive: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with archive.open(name, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
