"""Frames of one avatar rendered as fast as the GPU allows (gsplat on CUDA).

A frame is: rig LBS -> face frames -> binding + dynamics -> SH colour -> gsplat's projection ->
tile intersection -> rasterization. Everything up to and including the projection has fixed
shapes for a given avatar and image size, so it is recorded once as one CUDA graph and replayed
with a single launch. The tile intersection allocates by the frame's intersection count (a host
sync), so it and the rasterization run eagerly after the replay, calling gsplat's kernels directly:
no autograd, no per-frame checks, no Python-side SH or compositing.

The images are those of ``rasterize(..., backend="gsplat")`` (training/render/rasterize.py): the
same kernels with the same conventions (OpenCV cameras, pixel centres at integer coordinates,
colour = max(SH . c + 0.5, 0), background composited by the rasterizer); a GPU test holds them equal.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Sequence

import torch

from training.model.face_gaussians import GaussianSet
from training.model.posing import RigPoser, bind_world, dynamic_features
from training.model.tracking import FrameInputs
from training.twins.lbs import fit_coefficients

TILE_SIZE = 16


class GraphedFrames:
    """``frames(inputs, viewmat (4,4), K (3,3))`` -> image (H,W,3) over the background and alpha
    (H,W,1), for one avatar at one image size. The returned tensors belong to the renderer and are
    overwritten by the next call: copy them to keep them. Needs CUDA and gsplat."""

    def __init__(
        self,
        poser: RigPoser,
        gaussians: GaussianSet,
        num_dyn_expression: int,
        sh_degree: int,
        width: int,
        height: int,
        background: Sequence[float],
        near_plane: float = 0.01,
        far_plane: float = 1e10,
        eps2d: float = 0.3,
        compile_posing: bool = False,
        antialiased: bool = False,
    ) -> None:
        from gsplat.cuda import _wrapper as kernels

        device = poser.device
        if device.type != "cuda":
            raise ValueError(f"GraphedFrames renders on CUDA; the poser is on {device}")
        self.kernels = kernels
        self.poser = poser
        self.sh_degree = sh_degree
        self.width, self.height = int(width), int(height)
        self.tiles = (math.ceil(self.width / TILE_SIZE), math.ceil(self.height / TILE_SIZE))
        self.projection = {"eps2d": eps2d, "near_plane": near_plane, "far_plane": far_plane}
        self.antialiased = antialiased  # as rasterize(antialiased=True): opacity times the compensation
        self.num_dyn_expression = num_dyn_expression
        self.parent_face = gaussians.parent_face
        self.params = {name: value.detach() for name, value in gaussians.params.items()}
        # torch.compile fuses posing's few hundred small kernels into a handful (a one-off compile
        # of tens of seconds; needs Triton): worth it for long sequences, not for a few frames.
        self.posed = torch.compile(self._posed, dynamic=False) if compile_posing else self._posed
        self.background = torch.tensor([list(background)], dtype=torch.float32, device=device)  # (1,3)
        model = poser.model
        # The graph's inputs: each frame's values are copied into these before the replay.
        self.expression = torch.zeros(max(1, model.num_expression), device=device)
        self.pose = torch.zeros(model.num_joints, 3, device=device)
        self.transl = torch.zeros(3, device=device)
        self.viewmat = torch.eye(4, device=device)
        self.K = torch.eye(3, device=device)
        self.graph = torch.cuda.CUDAGraph()
        with torch.no_grad():
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):  # warm-up: lazy kernel loads and allocator pools outside capture
                    self._front()
            torch.cuda.current_stream().wait_stream(side)
            gc.collect()  # see training/loop/steps.py: no cyclic frees during a capture
            gc.disable()
            try:
                with torch.cuda.graph(self.graph):
                    self.front = self._front()
            finally:
                gc.enable()

    def _posed(self) -> tuple[torch.Tensor, ...]:
        """This frame's world Gaussians: means, quats, scales, opacities, SH (no regularisers)."""
        vertices, pose_features = self.poser.mesh(FrameInputs(self.expression, self.pose, self.transl))
        features = None
        if "dyn_basis" in self.params:
            features = dynamic_features(self.expression, pose_features, self.num_dyn_expression)
        world = bind_world(
            self.params, self.parent_face, vertices, self.poser.faces, features, self.sh_degree
        )
        return world.means, world.quats, world.scales, world.opacities, world.sh

    def _front(self) -> tuple[torch.Tensor, ...]:
        """The fixed-shape half of a frame: posed Gaussians, their projection and their colour."""
        means, quats, scales, opacities, sh = self.posed()
        viewmats = self.viewmat[None]
        ks = self.K[None].clone()
        ks[:, :2, 2] += 0.5  # gsplat samples pixel (i, j) at (j + 0.5, i + 0.5)
        radii, means2d, depths, conics, compensations = self.kernels.fully_fused_projection(
            means, None, quats, scales, viewmats, ks, self.width, self.height, opacities=opacities,
            calc_compensations=self.antialiased, **self.projection,
        )  # fmt: skip
        opacities = opacities[None] * compensations if self.antialiased else opacities[None]
        # Camera centre -R^T t, not inverse(viewmat): an inverse may check its result on the host.
        rotation, translation = self.viewmat[:3, :3], self.viewmat[:3, 3]
        centre = -(rotation.T @ translation)
        coeffs = sh[None].expand(1, *sh.shape)
        colours = self.kernels.spherical_harmonics(
            self.sh_degree, means[None] - centre, coeffs, masks=(radii > 0).all(dim=-1)
        )
        colours = torch.clamp_min(colours + 0.5, 0.0)
        return radii, means2d, depths, conics, colours, opacities.contiguous()

    @torch.no_grad()
    def __call__(
        self,
        inputs: FrameInputs,
        viewmat: torch.Tensor,
        K: torch.Tensor,  # noqa: N803
    ) -> tuple[torch.Tensor, torch.Tensor]:
        for static, value in (
            (self.expression, inputs.expression),
            (self.pose, inputs.pose),
            (self.transl, inputs.transl),
            (self.viewmat, viewmat),
            (self.K, K),
        ):
            static.copy_(_fit_to(value, static))
        self.graph.replay()
        radii, means2d, depths, conics, colours, opacities = self.front
        tiles_x, tiles_y = self.tiles
        _, isect_ids, flatten_ids = self.kernels.isect_tiles(
            means2d, radii, depths, TILE_SIZE, tiles_x, tiles_y, n_images=1
        )
        offsets = self.kernels.isect_offset_encode(isect_ids, 1, tiles_x, tiles_y).reshape(
            1, tiles_y, tiles_x
        )
        image, alpha = self.kernels.rasterize_to_pixels(
            means2d, conics, colours, opacities, self.width, self.height, TILE_SIZE, offsets, flatten_ids,
            backgrounds=self.background,
        )  # fmt: skip
        return image[0], alpha[0]


def _fit_to(value: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
    """A frame's input shaped as the graph's: coefficient vectors cut or zero-padded to the rig's
    count as the eager rig does (its own fit_coefficients), everything else reshaped."""
    if static.dim() == 1:
        return fit_coefficients(value, 1, static.numel(), static)[0]
    return value.to(static).reshape(static.shape)
