"""The two static-shape halves of a training step, as pure tensor functions, optionally replayed
as CUDA graphs.

A step is: posing (rig LBS -> face frames -> binding + dynamics -> world Gaussians, and the
binding regularisers), the rasterizer (gsplat: dynamic shapes, host syncs), then the image loss
(L1, D-SSIM, mask). Posing and loss are hundreds of small kernels each, forward and backward, so
on a GPU they are launch-bound: ``torch.cuda.make_graphed_callables`` records each (forward and
backward) once and replays it with one launch. Posing depends on the Gaussian count and the SH
degree, so it is recorded again after densification (every ``densify_every`` steps); the loss
depends only on the image batch shape. On the CPU, or when a recording fails or disagrees with the
eager result, the same functions run eagerly.

Recording is guarded against the process's own garbage: ``make_graphed_callables`` leaves reference
cycles (autograd functions closing over graphs and memory pools), so an old recording is freed by
Python's cyclic collector whenever it happens to run - and when that is during the next capture,
its CUDA frees invalidate it ("operation failed due to a previous error during capture"). So the
collector runs just before a recording and is paused during it.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from typing import Any

import torch

from training.loop.losses import hinge_mean, mask_loss, photometric_loss
from training.model.face_gaussians import PER_GAUSSIAN, GaussianSet
from training.model.posing import RigPoser, bind_world, dynamic_features
from training.model.tracking import FrameInputs

LOG = logging.getLogger("training")

PARAM_ORDER = (*PER_GAUSSIAN, "dyn_mix")
MAX_RECORDING_FAILURES = 2
POSE_OUTPUTS = (
    "means", "quats", "scales", "opacities", "sh", "reg_offset", "reg_scale", "reg_dynamics",
    "reg_opacity", "reg_world_scale",
)  # fmt: skip


def bind_function(
    faces: torch.Tensor,
    parent_face: torch.Tensor,
    names: tuple[str, ...],
    num_dyn_expression: int,
    sh_degree: int,
    offset_threshold: float,
    scale_threshold: float,
    smoothing: float = 0.0,
) -> Callable[..., tuple[torch.Tensor, ...]]:
    """f(vertices, pose_features, expression, *params in ``names`` order) -> POSE_OUTPUTS: the
    posed mesh (from the rig) to world Gaussians, plus the regularisers: the binding's hinges,
    the blendshape deltas, and the L1 terms lambda_opacity_reg / lambda_scale_reg weigh: the mean
    opacity (the Gaussians' own, with this frame's dynamics, before the 3D filter's fade - what
    MCMC relocation calls dead) and the mean world-space scale as rendered."""

    def bind(
        vertices: torch.Tensor, pose_features: torch.Tensor, expression: torch.Tensor, *values: torch.Tensor
    ):
        params = dict(zip(names, values, strict=True))
        features = None
        if "dyn_basis" in params:
            features = dynamic_features(expression, pose_features, num_dyn_expression)
        world = bind_world(params, parent_face, vertices, faces, features, sh_degree, smoothing)
        reg_offset = hinge_mean(params["offset"].norm(dim=-1), offset_threshold)
        reg_scale = hinge_mean(params["log_scale"].exp().amax(dim=-1), scale_threshold)
        reg_dyn = world.deltas.square().mean() if world.deltas is not None else expression.new_zeros(())
        opacity_logit = params["opacity"]
        if world.deltas is not None:
            opacity_logit = opacity_logit + world.deltas[..., 10]
        reg_opacity = torch.sigmoid(opacity_logit).mean()
        reg_world_scale = world.scales.mean()
        return (
            world.means,
            world.quats,
            world.scales,
            world.opacities,
            world.sh,
            reg_offset,
            reg_scale,
            reg_dyn,
            reg_opacity,
            reg_world_scale,
        )

    return bind


def loss_function(lambda_dssim: float, with_mask: bool) -> Callable[..., tuple[torch.Tensor, ...]]:
    """f(image, gt[, alpha, mask]) -> (photometric, l1, dssim, mask_l1)."""

    def loss(image: torch.Tensor, gt: torch.Tensor, *masked: torch.Tensor):
        total, parts = photometric_loss(image, gt, lambda_dssim)
        m = mask_loss(masked[0], masked[1]) if with_mask else image.new_zeros(())
        return total, parts["l1"], parts["dssim"], m

    return loss


class StepFunctions:
    """Posing and loss for the trainer, recorded as CUDA graphs when ``graphs`` is on."""

    def __init__(self, poser: RigPoser, cfg: Any, num_dyn_expression: int, graphs: bool) -> None:
        self.poser = poser
        self.cfg = cfg
        self.num_dyn_expression = num_dyn_expression
        self.graphs = graphs
        self.smoothing = 0.0  # std of the 3D filter in world units (set by the trainer)
        self._pose_key: tuple | None = None
        self._pose_graphed: Callable | None = None
        self._loss_cache: dict[tuple, Callable] = {}
        self._meshes: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.recordings = 0
        self.failures = 0

    # --- posing -------------------------------------------------------------------------------
    def _bind_eager(self, gaussians: GaussianSet, sh_degree: int) -> tuple[Callable, tuple[str, ...]]:
        names = tuple(n for n in PARAM_ORDER if n in gaussians.params)
        fn = bind_function(
            self.poser.faces, gaussians.parent_face, names, self.num_dyn_expression, sh_degree,
            self.cfg.offset_threshold, self.cfg.scale_threshold, self.smoothing,
        )  # fmt: skip
        return fn, names

    def pose(
        self, gaussians: GaussianSet, inputs: FrameInputs, sh_degree: int, timestep: int | None = None
    ) -> tuple[torch.Tensor, ...]:
        # The rig runs eagerly (its forward copies host data, which a recording cannot hold);
        # the binding, dynamics and regularisers - most of the kernels - are recorded. Without
        # tracking refinement a timestep's mesh never changes: it is posed once and kept.
        fixed = timestep is not None and not any(
            t.requires_grad for t in (inputs.expression, inputs.pose, inputs.transl)
        )
        if fixed and timestep in self._meshes:
            vertices, pose_features = self._meshes[timestep]
        else:
            vertices, pose_features = self.poser.mesh(inputs)
            if fixed:
                self._meshes[timestep] = (vertices.detach(), pose_features.detach())
        fn, names = self._bind_eager(gaussians, sh_degree)
        expression = inputs.expression
        if not self.cfg.refine_through_dynamics:
            # The blendshapes read the refined values but do not steer them: left free, appearance
            # turns the per-frame deltas into per-frame codes that unseen frames lack.
            expression, pose_features = expression.detach(), pose_features.detach()
        args = (vertices, pose_features, expression, *(gaussians.params[n] for n in names))
        if not self.graphs:
            return fn(*args)
        key = (
            gaussians.num_gaussians, sh_degree, id(gaussians.parent_face),
            tuple(a.requires_grad for a in args), tuple(a.shape for a in args[:3]),
        )  # fmt: skip
        if key != self._pose_key:
            self._pose_graphed = None  # free the old recording (collected in _record) first
            # The parameters themselves are the recording's inputs (the optimizer updates them in
            # place, so replays read the new values without a copy); frame inputs are copied in.
            self._pose_graphed = self._record(fn, args, "posing", keep=range(3, len(args)))
            self._pose_key = key
        if self._pose_graphed is None:
            return fn(*args)
        return self._pose_graphed(*args)

    # --- loss -----------------------------------------------------------------------------------
    def loss(
        self, image: torch.Tensor, gt: torch.Tensor, alpha: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, ...]:
        with_mask = mask is not None and self.cfg.lambda_mask > 0
        fn = loss_function(self.cfg.lambda_dssim, with_mask)
        args = (image, gt, alpha, mask) if with_mask else (image, gt)
        if not self.graphs:
            return fn(*args)
        key = (tuple(image.shape), with_mask, image.requires_grad)
        if key not in self._loss_cache:
            self._loss_cache[key] = self._record(fn, args, "loss")  # type: ignore[arg-type]
        graphed = self._loss_cache[key]
        return graphed(*args) if graphed is not None else fn(*args)

    # --- recording --------------------------------------------------------------------------------
    def _record(self, fn: Callable, args: tuple, what: str, keep: range | tuple = ()) -> Callable | None:
        """A CUDA-graph recording of ``fn`` checked against the eager result; None (this shape
        runs eagerly; after MAX_RECORDING_FAILURES, every shape) if recording fails or the two
        disagree. Arguments at ``keep`` are used as the recording's own inputs (no copies); the
        others get static copies."""
        gc.collect()  # old recordings' cycles are freed now, not in the middle of this capture
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        collecting = gc.isenabled()
        gc.disable()
        try:
            sample = tuple(
                a if i in keep else a.detach().clone().requires_grad_(a.requires_grad)
                for i, a in enumerate(args)
            )
            warmup = 3 if self.recordings == 0 else 1
            graphed = torch.cuda.make_graphed_callables(
                fn, sample, num_warmup_iters=warmup, allow_unused_input=True
            )
            if self.recordings == 0 or what == "loss":
                with torch.no_grad():
                    expected = fn(*args)
                got = graphed(*sample)
                for e, g in zip(expected, got, strict=True):
                    if not torch.allclose(e, g.detach(), rtol=1e-4, atol=1e-5):
                        raise RuntimeError(
                            f"recorded {what} differs from eager by {float((e - g).abs().max()):.3g}"
                        )
            self.recordings += 1
            return graphed
        except Exception as exc:
            # One failed capture runs that shape eagerly and the next shape is tried again; a
            # second failure turns recording off for the rest of the run.
            self.failures += 1
            if self.failures >= MAX_RECORDING_FAILURES:
                LOG.warning("CUDA graphs off (%s: %s: %s); running eagerly", what, type(exc).__name__, exc)
                self.graphs = False
            else:
                LOG.warning("CUDA graph recording failed (%s: %s: %s); eager until the next shape",
                            what, type(exc).__name__, exc)  # fmt: skip
            return None
        finally:
            if collecting:
                gc.enable()


class GraphedPosing:
    """Posing for rendering (no gradients): the rig eagerly, then binding and dynamics as one CUDA
    graph replay; the returned tensors are overwritten by the next call."""

    def __init__(
        self, poser: RigPoser, gaussians: GaussianSet, num_dyn_expression: int, sh_degree: int
    ) -> None:
        names = tuple(n for n in PARAM_ORDER if n in gaussians.params)
        self.poser = poser
        self.fn = bind_function(
            poser.faces, gaussians.parent_face, names, num_dyn_expression, sh_degree, 1.0, 1.0
        )
        self.params = tuple(gaussians.params[n].detach() for n in names)
        device = poser.device
        self.inputs = (
            torch.zeros(poser.model.num_vertices, 3, device=device),
            torch.zeros(poser.num_pose_features, device=device),
            torch.zeros(max(1, poser.model.num_expression), device=device),
        )
        self.graph = torch.cuda.CUDAGraph()
        with torch.no_grad():
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    self.fn(*self.inputs, *self.params)
            torch.cuda.current_stream().wait_stream(side)
            with torch.cuda.graph(self.graph):
                self.outputs = self.fn(*self.inputs, *self.params)

    @torch.no_grad()
    def __call__(self, inputs: FrameInputs) -> tuple[torch.Tensor, ...]:
        vertices, pose_features = self.poser.mesh(inputs)
        for static, value in zip(self.inputs, (vertices, pose_features, inputs.expression), strict=True):
            static.copy_(value.reshape(static.shape))
        self.graph.replay()
        return self.outputs
