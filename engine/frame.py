"""One image: scene meshes, then every splat object (project, sort, draw), composited in display
values into an offscreen target, then resolved into Blender's scene-linear colour and a depth.

Used by the viewport (view_draw) and the final render (render()) alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import colour
from ..core.cameras import ViewCamera
from . import shaders as shader_cache
from .gpu import arrays as gpu_arrays
from .gpu.api import Batch, Texture, batch, framebuffer, gpu, texture
from .gpu.splat_buffers import SplatGpuData
from .passes import meshes as mesh_pass
from .passes import splats as splat_pass
from .shaders import resolve

BACKGROUND_DEPTH = 1.0e10  # what Blender's Depth pass holds where nothing was drawn


@dataclass
class SplatDraw:
    data: SplatGpuData
    matrix_world: np.ndarray  # object -> world (4,4)
    splat_scale: float = 1.0
    max_sh_degree: int = 3
    # CPU sort path: object-space means of this frame (None: sort on the GPU).
    cpu_means: np.ndarray | None = None
    # Following a light: scene-linear multiplier of the colours (None: as trained).
    tint: tuple[float, float, float] | None = None
    pass_index: int = 0  # the object index pass
    name: str = ""  # the splat object's name
    # The Vector pass: each splat's (prev - now, now - next) pixel motion, y up (None: no motion).
    motion: Texture | None = None


_fullscreen: Batch | None = None


def fullscreen_batch() -> Batch:
    global _fullscreen
    if _fullscreen is None:
        _fullscreen = batch("TRI_STRIP", {"position": splat_pass.QUAD_CORNERS})
    return _fullscreen


def release() -> None:
    global _fullscreen
    _fullscreen = None
    splat_pass.release()


class FrameTargets:
    """Offscreen targets of one size: composite (colour + depth sum + depth buffer), resolved."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = int(width), int(height)
        size = (self.width, self.height)
        self.color = texture(size, "RGBA32F")
        self.depth_sum = texture(size, "RGBA32F")
        self.normal_sum = texture(size, "RGBA32F")
        self.motion_sum = texture(size, "RGBA32F")
        self.depth_buffer = texture(size, "DEPTH_COMPONENT32F")
        self.composite = framebuffer(
            (self.color, self.depth_sum, self.normal_sum, self.motion_sum), self.depth_buffer
        )
        self.linear = texture(size, "RGBA32F")
        self.depth = texture(size, "RGBA32F")  # depth, object index, coverage
        self.normal = texture(size, "RGBA32F")  # normal in camera (OpenCV) axes, coverage
        self.vector = texture(size, "RGBA32F")  # Blender's Vector pass
        self.resolved = framebuffer((self.linear, self.depth, self.normal, self.vector))

    def fits(self, width: int, height: int) -> bool:
        return (self.width, self.height) == (int(width), int(height))


def render_frame(
    targets: FrameTargets,
    camera: ViewCamera,
    *,
    background_srgb: tuple[float, float, float] | None,
    meshes: list[mesh_pass.MeshDraw],
    splats: list[SplatDraw],
) -> None:
    """Draws the frame into targets.linear (scene-linear, premultiplied) and targets.depth.

    background_srgb: display colour behind everything, or None for a transparent film.
    """
    assert targets.fits(camera.width, camera.height)
    splats = [splat for splat in splats if splat.data.count]
    for splat in splats:
        local = camera.with_world(splat.matrix_world)
        splat_pass.run_project(
            splat.data, local, splat_scale=splat.splat_scale, max_sh_degree=splat.max_sh_degree
        )
        if splat.cpu_means is None:
            splat_pass.sort_gpu(splat.data)
        else:
            splat_pass.sort_cpu(splat.data, splat.cpu_means, local)
    # Cleared one by one: the depth-sum target starts at zero even under an opaque background.
    clear = (0.0, 0.0, 0.0, 0.0) if background_srgb is None else (*background_srgb, 1.0)
    targets.color.clear(format="FLOAT", value=clear)
    targets.depth_sum.clear(format="FLOAT", value=(0.0, 0.0, 0.0, 0.0))
    targets.normal_sum.clear(format="FLOAT", value=(0.0, 0.0, 0.0, 0.0))
    targets.motion_sum.clear(format="FLOAT", value=(0.0, 0.0, 0.0, 0.0))
    with targets.composite.bind():
        targets.composite.clear(depth=1.0)
        mesh_pass.draw(meshes, camera)
        for splat in splats:
            local = camera.with_world(splat.matrix_world)
            splat_pass.draw(splat.data, local, splat.tint, splat.pass_index, splat.motion)
        gpu.state.depth_test_set("NONE")
    with targets.resolved.bind():
        shader = shader_cache.get(resolve)
        shader.bind()
        shader.uniform_sampler("composited", targets.color)
        shader.uniform_sampler("depth_sum", targets.depth_sum)
        shader.uniform_sampler("normal_sum", targets.normal_sum)
        shader.uniform_sampler("motion_sum", targets.motion_sum)
        shader.uniform_float("background_depth", BACKGROUND_DEPTH)
        gpu.state.blend_set("NONE")
        fullscreen_batch().draw(shader)


def read_combined(targets: FrameTargets) -> np.ndarray:
    """(H, W, 4) scene-linear premultiplied RGBA, row 0 at the bottom (Blender's order)."""
    return gpu_arrays.read(targets.linear).reshape(targets.height, targets.width, 4)


def read_depth(targets: FrameTargets) -> np.ndarray:
    """(H, W) depth along the view axis, row 0 at the bottom."""
    return gpu_arrays.read(targets.depth).reshape(targets.height, targets.width, 4)[..., 0].copy()


def read_coverage(targets: FrameTargets) -> np.ndarray:
    """(H, W) how much of each pixel the splats and meshes cover (0..1)."""
    data = gpu_arrays.read(targets.depth).reshape(targets.height, targets.width, 4)
    return np.clip(data[..., 2], 0.0, 1.0).copy()


def read_object_index(targets: FrameTargets) -> np.ndarray:
    """(H, W) object pass index of what covers each pixel at least half (0 elsewhere)."""
    data = gpu_arrays.read(targets.depth).reshape(targets.height, targets.width, 4)
    return np.where(data[..., 2] >= 0.5, np.rint(data[..., 1]), 0.0).astype(np.float32)


def read_vector(targets: FrameTargets) -> np.ndarray:
    """(H, W, 4) Blender's Vector pass, row 0 at the bottom."""
    return gpu_arrays.read(targets.vector).reshape(targets.height, targets.width, 4).copy()


def read_camera_normals(targets: FrameTargets) -> np.ndarray:
    """(H, W, 3) unit normals in camera (OpenCV) axes, 0 where nothing was drawn."""
    return gpu_arrays.read(targets.normal).reshape(targets.height, targets.width, 4)[..., :3].copy()


def background_from_world_color(linear_rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    srgb = colour.linear_to_srgb(np.clip(np.asarray(linear_rgb, dtype=np.float64), 0.0, 1.0))
    return (float(srgb[0]), float(srgb[1]), float(srgb[2]))
