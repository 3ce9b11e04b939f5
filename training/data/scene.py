"""A dataset as the trainer uses it: the frames of one split with their cameras as tensors (at the
training resolution), the decoded-image cache, and the tracked rig inputs per timestep."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from core.untrusted.errors import DAMAGED, describe
from training.data.cache import ImageCache, scale_intrinsics, scaled_size
from training.errors import DatasetError

LOG = logging.getLogger("training")

FAMILY = {"flame": "FLAME", "smplx": "SMPLX"}


def parse_test_frames(spec: str | None) -> int | float | list[int] | None:
    if spec is None or spec == "":
        return None
    if "," in spec:
        return [int(s) for s in spec.split(",") if s.strip()]
    return float(spec) if "." in spec else int(spec)


def load_dataset(
    path: str,
    rig: str | None,
    val_cameras: str | None = None,
    test_frames: str | None = None,
    rig_model: object | None = None,
):
    """Read any dataset format core/datasets knows, and check it can train a ``rig`` avatar."""
    from core.datasets import DatasetError as ReaderError
    from core.datasets import open_dataset

    try:
        dataset = open_dataset(
            path,
            rig_model=rig_model,
            val_cameras=[c.strip() for c in val_cameras.split(",")] if val_cameras else None,
            test_frames=parse_test_frames(test_frames),
        )
    except ReaderError as exc:
        raise DatasetError(str(exc)) from None
    except DAMAGED as exc:  # a damaged file a reader did not name: still the dataset's fault
        raise DatasetError(f"{path}: the dataset cannot be read ({describe(exc)})") from None
    if rig is not None:
        family = FAMILY[rig]
        if dataset.rig_status != "ok":
            why = dataset.rig_message or f"rig status {dataset.rig_status!r}"
            raise DatasetError(f"{dataset.root}: the dataset has no usable rig parameters ({why})")
        if dataset.rig_family != family:
            raise DatasetError(
                f"{dataset.root}: the dataset is tracked with {dataset.rig_family}, "
                f"not {family} (--rig {rig})"
            )
    return dataset


@dataclass
class SplitData:
    """The frames of one split at the training resolution."""

    frames: list
    viewmats: torch.Tensor  # (N,4,4) OpenCV world-to-camera
    ks: torch.Tensor  # (N,3,3) pixels, pixel centres at integers
    sizes: list[tuple[int, int]]  # (width, height)
    timesteps: list[int]
    by_timestep: dict[int, list[int]] = field(default_factory=dict)
    cache: ImageCache | None = None

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def camera_ids(self) -> list[str]:
        return [f.camera_id for f in self.frames]


def spread_frames(frames: list, limit: int) -> list:
    """At most ``limit`` of ``frames`` (0: all), spread evenly and the same every time: taken
    camera by camera (cameras in order of first appearance, each camera's frames in their own
    order), so each camera gets its share across its timesteps and the result keeps the split's
    order. A split of one camera gets what an even spread over the list gives; a split of several
    held-out cameras gets every one of them, not whichever the list's stride happens to hit."""
    if not limit or len(frames) <= limit:
        return list(frames)
    first: dict[str, int] = {}
    for i, f in enumerate(frames):
        first.setdefault(f.camera_id, i)
    by_camera = sorted(range(len(frames)), key=lambda i: first[frames[i].camera_id])
    pick = np.linspace(0, len(frames) - 1, limit).round().astype(int)
    return [frames[i] for i in sorted({by_camera[k] for k in pick.tolist()})]


def split_data(
    dataset,
    split: str,
    scale: float,
    device: torch.device,
    background: Sequence[float],
    cache_policy: str = "auto",
    max_cache_gb: float = 8.0,
    load_images: bool = True,
    limit: int = 0,
) -> SplitData:
    """The frames of ``split`` (at most ``limit``, spread evenly; 0: all) at ``scale``; images are
    composited with their masks over ``background`` unless the dataset names its own background."""
    frames = spread_frames(dataset.split(split), limit)
    sizes, views, intr = [], [], []
    for f in frames:
        cam = f.camera
        w, h = scaled_size(cam.width, cam.height, scale)
        sizes.append((w, h))
        views.append(np.asarray(cam.world_to_camera, dtype=np.float64))
        intr.append(scale_intrinsics(cam.K, cam.width, cam.height, w, h))
    by_t: dict[int, list[int]] = defaultdict(list)
    for i, f in enumerate(frames):
        by_t[int(f.timestep)].append(i)
    data = SplitData(
        frames=frames,
        viewmats=torch.as_tensor(np.asarray(views).reshape(-1, 4, 4), dtype=torch.float32, device=device),
        ks=torch.as_tensor(np.asarray(intr).reshape(-1, 3, 3), dtype=torch.float32, device=device),
        sizes=sizes,
        timesteps=[int(f.timestep) for f in frames],
        by_timestep=dict(by_t),
    )
    if load_images and frames:
        data.cache = ImageCache(
            frames, sizes, background, device, cache_policy, max_cache_gb,
            composite=dataset.background is None,
        )  # fmt: skip
    return data
