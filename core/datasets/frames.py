"""The in-memory dataset every reader produces (contract 5 of ARCHITECTURE.md).

A ``Dataset`` is a list of ``Frame``s (one image from one camera at one timestep) plus the tracked
rig parameters per timestep. Images are never decoded here: frames carry paths, and the trainer
calls ``image_io.load_image`` / ``load_mask`` when it needs pixels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from .camera import Camera

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
RigFamily = Literal["FLAME", "SMPLX"]
# "ok": parameters present and usable; "unsupported": the dataset has parameters we cannot use
# (say, BFM fits); "none": the format has no rig (D-NeRF).
RigStatus = Literal["ok", "unsupported", "none"]


@dataclass(frozen=True, eq=False)
class Frame:
    image_path: Path
    mask_path: Path | None
    camera: Camera
    timestep: int
    split: Split
    rig_family: RigFamily | None
    # Per-frame rig parameters (keys of docs/DESIGN.md, no leading frame axis); None without a rig.
    params: Mapping[str, np.ndarray] | None
    time: float | None = None  # normalised time in [0,1] for D-NeRF style scenes

    @property
    def camera_id(self) -> str:
        return self.camera.camera_id


@dataclass(eq=False)
class Dataset:
    format: str  # reader key: "gaussian_avatars", "imavatar", ...
    root: Path
    frames: list[Frame]
    rig_family: RigFamily | None
    rig_status: RigStatus
    # Per-timestep parameters; frames at the same timestep share these dicts.
    rig_params: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    # Why the rig parameters are unsupported / why the dataset cannot be trained yet ('' if fine).
    rig_message: str = ""
    # Things a user should know: remapped indices, skipped files, conversions applied.
    notes: list[str] = field(default_factory=list)
    # Background colour the images were composited on, where the format says (sRGB, 0..1).
    background: tuple[float, float, float] | None = None
    fps: float | None = None
    # What generated the data, for datasets that record it (the built-in synthetic one does).
    recipe: dict[str, object] | None = None
    # Sparse structure-from-motion points (N,3) in the cameras' world, where the format ships them
    # (HyperNeRF's points.npy): a start for scenes without masks to carve from.
    points: np.ndarray | None = None

    @property
    def trainable(self) -> bool:
        """True when a rig-bound avatar can be trained from this dataset."""
        return self.rig_status == "ok" and any(f.split == "train" for f in self.frames)

    def split(self, name: Split) -> list[Frame]:
        return [f for f in self.frames if f.split == name]

    @property
    def timesteps(self) -> list[int]:
        return sorted({f.timestep for f in self.frames})

    @property
    def camera_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for f in self.frames:
            seen.setdefault(f.camera_id, None)
        return list(seen)

    @property
    def cameras(self) -> dict[str, Camera]:
        """The first camera seen for each camera id (static rigs have one per id)."""
        out: dict[str, Camera] = {}
        for f in self.frames:
            out.setdefault(f.camera_id, f.camera)
        return out

    def frames_at(self, timestep: int) -> list[Frame]:
        return [f for f in self.frames if f.timestep == timestep]

    def camera_is_static(self, camera_id: str) -> bool:
        cams = [f.camera for f in self.frames if f.camera_id == camera_id]
        return all(c.same_pose(cams[0]) for c in cams[1:])

    @property
    def identity(self) -> dict[str, np.ndarray]:
        """Identity parameters shared by all frames (FLAME ``shape``/``static_offset``, SMPL-X
        ``betas``), taken from the first timestep."""
        if not self.rig_params:
            return {}
        first = self.rig_params[min(self.rig_params)]
        keys = ("shape", "static_offset") if self.rig_family == "FLAME" else ("betas",)
        return {k: first[k] for k in keys if k in first}

    def sequence(self, timesteps: Iterable[int] | None = None) -> dict[str, np.ndarray]:
        """Parameters stacked over timesteps (leading frame axis), in ``timesteps`` order
        (default: all, ascending). Keys present in every timestep only."""
        order = list(self.rig_params) if timesteps is None else list(timesteps)
        if timesteps is None:
            order.sort()
        if not order:
            return {}
        dicts = [self.rig_params[t] for t in order]
        keys = [k for k in dicts[0] if all(k in d for d in dicts)]
        return {k: np.stack([np.asarray(d[k]) for d in dicts]) for k in keys}

    def summary(self) -> str:
        counts = ", ".join(f"{s} {len(self.split(s))}" for s in SPLITS)
        rig: str = self.rig_family or "no rig"
        if self.rig_status == "unsupported":
            rig += " (unsupported)"
        return (
            f"{self.format}: {len(self.frames)} images ({counts}), {len(self.camera_ids)} cameras, "
            f"{len(self.timesteps)} timesteps, {rig}"
        )
