"""``python -m training render``: an avatar driven by rig parameters, seen by given cameras.

``--params``: a .npz (or .json) parameter dictionary with the datasets' keys (docs/DESIGN.md); a
leading frame axis makes a sequence. The avatar's own identity (shape, static offsets) is used.
``--camera``: a .json with ``K`` (3x3, pixels, pixel centres at integers), ``world_to_camera``
(4x4, OpenCV axes), ``width`` and ``height``; or a list of them, or ``{"cameras": [...]}``.
Writes ``OUT/{frame:05d}.png`` (one camera) or ``OUT/{frame:05d}_{camera:02d}.png``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.untrusted import arrays as checked
from core.untrusted.errors import InputError
from training.errors import DatasetError, ExitCode, TrainerError
from training.files.avatar_read import avatar_rig, load_avatar
from training.files.cameras import read_cameras, read_json_input
from training.files.images import save_png
from training.model.posing import RigPoser
from training.model.tracking import FrameInputs
from training.render.renderer import Renderer, render_avatar
from training.rigs import identity_inputs
from training.runtime.device import resolve_backend, resolve_device
from training.runtime.protocol import EventWriter

LOG = logging.getLogger("training")


def read_params(path: str) -> dict[str, np.ndarray]:
    p = Path(path)
    if p.suffix.lower() == ".json":
        raw = read_json_input(p, "parameter .json")
        if not isinstance(raw, dict):
            raise DatasetError(f"{p}: expected an object of parameter arrays")
        try:
            return {str(k): checked.float_array(v, str(k), limit=1e6) for k, v in raw.items()}
        except InputError as exc:
            raise DatasetError(f"{p}: {exc.problem}") from None
    from core.rig.errors import ParamsError
    from core.rig.params import read_params_file

    try:
        return read_params_file(p)
    except ParamsError as exc:
        raise DatasetError(str(exc)) from None


class FrameRenderer:
    """One frame for one camera -> (H,W,3) image. With gsplat, a CUDA graph per image size
    (training/render/frame_graph.py); elsewhere, or if a recording fails, the eager path."""

    def __init__(self, poser: RigPoser, avatar: Any, renderer: Renderer, backend: str) -> None:
        self.poser, self.avatar, self.renderer = poser, avatar, renderer
        self.graphed = backend == "gsplat"
        self.by_size: dict[tuple[int, int], Any] = {}

    def __call__(
        self,
        inputs: FrameInputs,
        viewmat: torch.Tensor,
        K: torch.Tensor,  # noqa: N803
        width: int,
        height: int,
    ) -> torch.Tensor:
        frames = self._graphed(width, height) if self.graphed else None
        if frames is not None:
            return frames(inputs, viewmat, K)[0]
        avatar = self.avatar
        _, image, _, _ = render_avatar(
            self.poser, avatar.gaussians, avatar.num_dyn_expression, self.renderer, inputs, viewmat[None],
            K[None], width, height, avatar.sh_degree,
        )  # fmt: skip
        return image[0]

    def _graphed(self, width: int, height: int) -> Any:
        from training.render.frame_graph import GraphedFrames

        key = (int(width), int(height))
        if key not in self.by_size:
            avatar = self.avatar
            try:
                self.by_size[key] = GraphedFrames(
                    self.poser, avatar.gaussians, avatar.num_dyn_expression, avatar.sh_degree, width, height,
                    self.renderer.background.tolist(), antialiased=self.renderer.antialiased,
                )  # fmt: skip
            except RuntimeError as exc:  # a failed recording: render this size eagerly
                LOG.warning("CUDA graph off for %dx%d frames (%s); rendering eagerly", width, height, exc)
                self.by_size[key] = None
        return self.by_size[key]


@torch.no_grad()
def run_render(args: argparse.Namespace, events: EventWriter) -> int:
    from core.rig.errors import ParamsError
    from core.rig.params import params_from_dict

    device = resolve_device(args.device)
    backend = resolve_backend(args.backend, device)
    avatar = load_avatar(args.avatar, device)
    rig_model = avatar_rig(avatar, args.model)
    cameras = read_cameras(args.camera)
    raw = read_params(args.params)
    try:
        params = params_from_dict(rig_model, raw)
    except ParamsError as exc:
        raise DatasetError(f"{args.params}: {exc}") from None
    background = avatar.background
    if args.background:
        try:
            background = tuple(float(c) for c in args.background.split(","))  # type: ignore[assignment]
            assert len(background) == 3
        except (ValueError, AssertionError):
            raise TrainerError(f"--background {args.background!r}: expected r,g,b") from None
    poser = RigPoser(rig_model, *identity_inputs(rig_model, avatar.identity), device)
    renderer = Renderer(backend, background, device, antialiased=avatar.antialiased)
    frame_renderer = FrameRenderer(poser, avatar, renderer, backend)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    as_t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32, device=device)  # noqa: E731
    count = 0
    start = time.perf_counter()
    for t in range(params.num_frames):
        inputs = FrameInputs(
            expression=as_t(params.expression[t]), pose=as_t(params.pose[t]), transl=as_t(params.transl[t])
        )
        for c, cam in enumerate(cameras):
            image = frame_renderer(
                inputs, as_t(cam["world_to_camera"]), as_t(cam["K"]), cam["width"], cam["height"]
            )
            name = f"{t:05d}.png" if len(cameras) == 1 else f"{t:05d}_{c:02d}.png"
            path = save_png(out / name, image)
            events.emit("frame", path=str(path), frame=t, camera=c)
            count += 1
    seconds = time.perf_counter() - start
    events.emit("done", out=str(out), images=count, seconds=seconds)
    return int(ExitCode.OK)
