"""``python -m training eval``: render a dataset split with a trained avatar and score it.

The last stdout line is one JSON object: ``{"event": "eval", "split", "count", "psnr", "ssim",
["lpips",] "images": [{"name", "camera", "timestep", "psnr", "ssim"}, ...]}`` with the means at the
top level. Held-out cameras (val) use the refined tracking when ``--tracking`` gives it; held-out
frames (test) always use the dataset's own tracking.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch

from training.data.scene import load_dataset, split_data
from training.errors import DatasetError, ExitCode
from training.files.avatar_read import FAMILY_TO_RIG, avatar_rig, load_avatar
from training.model.posing import RigPoser
from training.model.tracking import TrackedSequence
from training.render.renderer import Renderer, render_avatar
from training.rigs import identity_inputs, rig_inputs
from training.runtime.device import resolve_backend, resolve_device
from training.runtime.protocol import EventWriter

LOG = logging.getLogger("training")


def load_tracking_override(path: str, tracking: TrackedSequence) -> int:
    """Replace rows of ``tracking`` with those of a tracking.npz (refined by fit); returns how many."""
    from core.untrusted import arrays as checked
    from core.untrusted import reading
    from core.untrusted.npz import read_npz

    def refuse(_name: str, problem: str) -> DatasetError:
        return DatasetError(f"{path}: not a readable tracking file (it {problem})")

    with reading(path, refuse, ".npz"):
        arrays = read_npz(path)
        missing = [k for k in ("timesteps", "expression", "pose", "transl") if k not in arrays]
        if missing:
            raise DatasetError(f"{path}: not a tracking file from fit (no '{missing[0]}')")
        count = len(checked.int_array(arrays["timesteps"], "timesteps", (None,)))
        for name in ("expression", "pose", "transl"):
            arrays[name] = checked.float_array(arrays[name], name, limit=1e4)
            if arrays[name].ndim == 0 or arrays[name].shape[0] != count:
                raise DatasetError(
                    f"{path}: {name} has {np.shape(arrays[name])[:1]} rows for {count} timesteps"
                )
    replaced = 0
    with torch.no_grad():
        for row, t in enumerate(arrays["timesteps"].tolist()):
            if t not in tracking:
                continue
            i = tracking.row[t]
            for name in ("expression", "pose", "transl"):
                target = getattr(tracking, name)
                value = torch.as_tensor(arrays[name][row], dtype=target.dtype, device=target.device)
                if value.shape != target[i].shape:
                    raise DatasetError(
                        f"{path}: {name} has shape {tuple(value.shape)}, expected {tuple(target[i].shape)}"
                    )
                target[i] = value
            replaced += 1
    return replaced


@torch.no_grad()
def run_eval(args: argparse.Namespace, events: EventWriter) -> int:
    from training.files.images import save_png
    from training.metrics import lpips_available, score_images

    device = resolve_device(args.device)
    backend = resolve_backend(args.backend, device)
    avatar = load_avatar(args.avatar, device)
    rig_model = avatar_rig(avatar, args.model)
    dataset = load_dataset(
        args.data, FAMILY_TO_RIG.get(avatar.family), args.val_cameras, args.test_frames, rig_model
    )
    data = split_data(
        dataset, args.split, args.resolution_scale, device, avatar.background, limit=args.max_images
    )
    if len(data) == 0:
        raise DatasetError(f"{args.data}: the {args.split} split has no frames")
    ok, why = lpips_available()
    if not ok:
        LOG.info("LPIPS is left out: %s", why)
    steps = sorted(set(data.timesteps))
    tracking = TrackedSequence(steps, *rig_inputs(dataset, steps, rig_model), device=device)
    if args.tracking:
        n = load_tracking_override(args.tracking, tracking)
        LOG.info("refined tracking used for %d of %d timesteps", n, len(steps))
    poser = RigPoser(rig_model, *identity_inputs(rig_model, avatar.identity), device)
    renderer = Renderer(backend, avatar.background, device, antialiased=avatar.antialiased)
    assert data.cache is not None
    renders, truths, names = [], [], []
    start = time.perf_counter()
    for i, frame in enumerate(data.frames):
        w, h = data.sizes[i]
        _, image, _, _ = render_avatar(
            poser, avatar.gaussians, avatar.num_dyn_expression, renderer,
            tracking.inputs(data.timesteps[i], refined=False),
            data.viewmats[i : i + 1], data.ks[i : i + 1], w, h, avatar.sh_degree,
        )  # fmt: skip
        gt, _ = data.cache.batch([i])
        renders.append(image[0].clamp(0, 1))
        truths.append(gt[0])
        names.append(Path(frame.image_path).name)
        if args.save_images:
            save_png(Path(args.save_images) / f"{i:05d}_{Path(frame.image_path).stem}.png", image[0])
    scores = score_images(renders, truths, names)
    for entry, frame in zip(scores["images"], data.frames, strict=True):
        entry["camera"] = frame.camera_id
        entry["timestep"] = int(frame.timestep)
    LOG.info(
        "%s: %d images, PSNR %.3f dB, SSIM %.4f (%.1f s)",
        args.split, scores["count"], scores["psnr"], scores["ssim"], time.perf_counter() - start,
    )  # fmt: skip
    events.emit("eval", split=args.split, avatar=str(args.avatar), **scores)
    return int(ExitCode.OK)
