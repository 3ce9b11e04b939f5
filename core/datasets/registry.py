"""Format detection from folder contents and the single entry point ``open_dataset``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from ..untrusted.errors import describe
from .errors import DatasetError
from .formats import (
    actorshq,
    avatarrex,
    dnerf,
    dynerf,
    gaussian_avatars,
    gaussian_head_avatar,
    hypernerf,
    imavatar,
    thuman4,
)
from .frames import Dataset
from .options import ReadOptions

# Most specific first: GaussianAvatars and D-NeRF both have transforms_train.json.
_ORDER = (gaussian_avatars, dnerf, avatarrex, thuman4, actorshq, gaussian_head_avatar, imavatar, dynerf)
READERS: dict[str, ModuleType] = {m.FORMAT: m for m in (*_ORDER, hypernerf)}
FORMAT_LABELS: dict[str, str] = {key: m.LABEL for key, m in READERS.items()}
# Formats with a time per image and no rig: they train as 4D sequences (``fit --rig none``).
SEQUENCE_FORMATS = frozenset({dnerf.FORMAT, dynerf.FORMAT, hypernerf.FORMAT})

_WHAT_WE_LOOK_FOR = (
    "transforms_train.json with FLAME parameters (GaussianAvatars) or with time (D-NeRF), "
    "calibration_full.json (AvatarReX), calibration.json + images/ (THuman4.0), "
    "1x|2x|4x/calibration.csv (ActorsHQ) each with smpl_params.npz, cameras/ + images/ "
    "(Gaussian Head Avatar), flame_params.json (IMavatar), or cam00.mp4 ... + poses_bounds.npy "
    "(DyNeRF multi-view videos), or dataset.json + metadata.json + camera/ + rgb/ (HyperNeRF)"
)


def _folder(path: str | os.PathLike[str]) -> Path:
    p = Path(path).expanduser()
    if p.is_file():  # a transforms / calibration / params file was picked: use its folder
        p = p.parent
    if not p.exists():
        raise DatasetError(p, "does not exist")
    if not p.is_dir():
        raise DatasetError(p, "is not a folder")
    return p.resolve()


def detect_format(path: str | os.PathLike[str]) -> str:
    """The reader key for a dataset folder, from the files it holds."""
    root = _folder(path)
    for key, module in READERS.items():
        if module.looks_like(root):
            return key
    raise DatasetError(root, f"is not a dataset folder this add-on knows: looked for {_WHAT_WE_LOOK_FOR}")


def open_dataset(
    path: str | os.PathLike[str],
    format: str = "auto",
    *,
    rig_model: Any = None,
    options: ReadOptions | None = None,
    val_cameras: Sequence[str] | None = None,
    test_frames: int | float | Sequence[int] | None = None,
) -> Dataset:
    """Read a dataset folder (``format='auto'`` detects it). Raises only ``DatasetError``.

    ``rig_model`` (a RigModel) is needed by formats whose parameters convert through the model
    (Gaussian Head Avatar FLAME fits). ``val_cameras`` / ``test_frames`` override the split of
    formats that do not store one (see ReadOptions)."""
    root = _folder(path)
    key = detect_format(root) if format in ("auto", "AUTO", "") else format.lower()
    if key not in READERS:
        raise DatasetError(root, f"unknown dataset format {format!r}; known: {', '.join(READERS)}")
    opts = options or ReadOptions()
    if val_cameras is not None or test_frames is not None:
        opts = replace(
            opts,
            val_cameras=val_cameras if val_cameras is not None else opts.val_cameras,
            test_frames=test_frames if test_frames is not None else opts.test_frames,
        )
    module = READERS[key]
    try:
        dataset: Dataset = module.read(root, opts, rig_model)
    except DatasetError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        # A shape of data the reader did not foresee: still one sentence, never a traceback.
        raise DatasetError(root, f"could not be read as {module.LABEL} ({describe(exc)})") from exc
    if not dataset.frames:
        raise DatasetError(root, "holds no frames")
    return dataset
