"""Images (and masks) decoded once, resized once, and kept as uint8 tensors.

On CUDA the cache lives on the GPU when it fits (``--cache auto`` keeps it under ``max_cache_gb``
and under 40 % of the free device memory); otherwise in pinned host memory, copied per step.
Photos with masks (real captures) are composited over the training background with their mask, so
the render (composited over the same background) compares pixel for pixel; datasets that say which
background their images already have (synthetic ones) are used as they are, masks only feeding
the mask loss (compositing twice would brighten soft edges).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from training.errors import DatasetError

LOG = logging.getLogger("training")


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    return max(1, round(width * scale)), max(1, round(height * scale))


def scale_intrinsics(k: np.ndarray, width: int, height: int, new_width: int, new_height: int) -> np.ndarray:
    """Intrinsics for a resized image, with pixel centres at integers (docs/DESIGN.md)."""
    sx, sy = new_width / width, new_height / height
    out = np.array(k, dtype=np.float64, copy=True)
    out[0, 0] *= sx
    out[0, 1] *= sx
    out[1, 1] *= sy
    out[0, 2] = (k[0, 2] + 0.5) * sx - 0.5
    out[1, 2] = (k[1, 2] + 0.5) * sy - 0.5
    return out


def _decode(
    frame, size: tuple[int, int], background: Sequence[float], composite: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    from PIL import Image

    from core.datasets import image_io
    from core.datasets.errors import DatasetError as ReaderError

    try:
        rgb = image_io.load_image(frame.image_path, background=tuple(background))
        mask = image_io.load_mask(frame.mask_path) if frame.mask_path is not None else None
    except ReaderError as exc:
        raise DatasetError(str(exc)) from None
    rgb8 = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    if mask is not None and mask.shape != rgb.shape[:2]:
        raise DatasetError(
            f"{frame.mask_path}: mask is {mask.shape[1]}x{mask.shape[0]}, image {rgb.shape[1]}x{rgb.shape[0]}"
        )
    if (rgb8.shape[1], rgb8.shape[0]) != size:
        rgb8 = np.asarray(Image.fromarray(rgb8).resize(size, Image.Resampling.BOX))
        if mask is not None:
            mask = np.asarray(Image.fromarray(mask.astype(np.float32)).resize(size, Image.Resampling.BOX))
    mask8 = None
    if mask is not None:
        mask8 = np.clip(np.rint(mask * 255.0), 0, 255).astype(np.uint8)
    if mask8 is not None and composite:
        # Composite the photo over the training background with its mask (GaussianAvatars does).
        m = mask8[..., None].astype(np.float32) / 255.0
        bg = np.asarray(background, dtype=np.float32) * 255.0
        rgb8 = np.clip(np.rint(rgb8 * m + bg * (1 - m)), 0, 255).astype(np.uint8)
    return rgb8, mask8


class ImageCache:
    """uint8 images of a list of frames; ``batch(indices)`` returns float images in [0, 1]."""

    def __init__(
        self,
        frames: Sequence,
        sizes: Sequence[tuple[int, int]],
        background: Sequence[float],
        device: torch.device,
        policy: str = "auto",
        max_gb: float = 8.0,
        workers: int | None = None,
        composite: bool = True,
    ) -> None:
        self.device = device
        self.num = len(frames)
        has_mask = [f.mask_path is not None for f in frames]
        self.has_masks = bool(frames) and all(has_mask)
        if any(has_mask) and not self.has_masks:
            LOG.warning("only some frames have masks: the mask loss is off")
        nbytes = sum(w * h * (4 if self.has_masks else 3) for w, h in sizes)
        self.on_device = device.type != "cpu" and self._fits(nbytes, policy, max_gb)
        store = device if (self.on_device or device.type == "cpu") else torch.device("cpu")
        pin = device.type == "cuda" and not self.on_device
        LOG.info(
            "caching %d images (%.2f GB) %s",
            self.num,
            nbytes / 1e9,
            "on the GPU" if self.on_device else ("in pinned host memory" if pin else "in memory"),
        )
        workers = workers or min(8, os.cpu_count() or 1)
        self.uniform = len(set(sizes)) == 1
        self.images: list[torch.Tensor] = []
        self.masks: list[torch.Tensor] = []
        self.stacked: torch.Tensor | None = None
        self.stacked_masks: torch.Tensor | None = None
        if self.uniform and self.num:
            w, h = sizes[0]
            self.stacked = torch.empty((self.num, h, w, 3), dtype=torch.uint8, device=store, pin_memory=pin)
            if self.has_masks:
                self.stacked_masks = torch.empty(
                    (self.num, h, w), dtype=torch.uint8, device=store, pin_memory=pin
                )
        with ThreadPoolExecutor(max_workers=workers) as pool:
            decoded = pool.map(
                lambda fs: _decode(fs[0], fs[1], background, composite), zip(frames, sizes, strict=True)
            )
            for i, (rgb8, mask8) in enumerate(decoded):
                img = torch.from_numpy(rgb8)
                mask = torch.from_numpy(mask8) if (self.has_masks and mask8 is not None) else None
                if self.stacked is not None:
                    self.stacked[i].copy_(img)
                    if mask is not None and self.stacked_masks is not None:
                        self.stacked_masks[i].copy_(mask)
                    continue
                self.images.append(img.pin_memory() if pin else img.to(store))
                if mask is not None:
                    self.masks.append(mask.pin_memory() if pin else mask.to(store))

    def _fits(self, nbytes: int, policy: str, max_gb: float) -> bool:
        if policy == "yes":
            return True
        if policy == "no":
            return False
        free = torch.cuda.mem_get_info(self.device)[0] if self.device.type == "cuda" else nbytes * 10
        return nbytes <= max_gb * 1e9 and nbytes <= 0.4 * free

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B,H,W,3) float images and (B,H,W) float masks (or None), on the training device."""
        if self.stacked is not None:
            idx = torch.as_tensor(list(indices), device=self.stacked.device)
            imgs = self.stacked.index_select(0, idx)
            masks = self.stacked_masks.index_select(0, idx) if self.stacked_masks is not None else None
        else:
            imgs = torch.stack([self.images[i] for i in indices])
            masks = torch.stack([self.masks[i] for i in indices]) if self.has_masks else None
        imgs = imgs.to(self.device, non_blocking=True).float().div_(255.0)
        if masks is not None:
            masks = masks.to(self.device, non_blocking=True).float().div_(255.0)
        return imgs, masks
