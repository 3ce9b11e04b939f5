"""One splat object in one view: project (compute), depth sort (GPU radix or numpy), draw
(instanced quads, back to front, premultiplied "over", depth-tested against the scene's meshes)."""

from __future__ import annotations

import numpy as np
from mathutils import Matrix

from ...core.cameras import ViewCamera
from .. import shaders as shader_cache
from ..gpu import arrays as gpu_arrays
from ..gpu.api import Batch, Texture, batch, dispatch, gpu
from ..gpu.splat_buffers import SplatGpuData
from ..shaders import project, splat_draw
from ..sorting import sort_order_cpu

_quad: Batch | None = None
QUAD_CORNERS = np.array([(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)], dtype=np.float32)


def _quad_batch() -> Batch:
    global _quad
    if _quad is None:
        _quad = batch("TRI_STRIP", {"corner": QUAD_CORNERS})
    return _quad


_zero: Texture | None = None


def _no_motion() -> Texture:
    """A 1-texel stand-in bound when no splat motion is drawn (a sampler must be bound)."""
    global _zero
    if _zero is None:
        _zero = gpu_arrays.upload(np.zeros((1, 4), dtype=np.float32))
    return _zero


def read_centres(data: SplatGpuData) -> np.ndarray:
    """(count, 4) of the last projection: pixel x, y (rows top-down), depth, opacity (0: culled)."""
    return gpu_arrays.read(data.splat["splat_center"])[: data.count * 4].reshape(-1, 4).copy()


def release() -> None:
    global _quad, _zero
    _quad = None
    _zero = None


def run_project(
    data: SplatGpuData, camera: ViewCamera, *, splat_scale: float = 1.0, max_sh_degree: int = 3
) -> None:
    """camera: the view camera in the splat object's space (camera.with_world(matrix_world))."""
    shader = shader_cache.get(project)
    shader.bind()
    for name, texture in data.world.items():
        shader.uniform_sampler(name, texture)
    shader.uniform_sampler("sh_rest", data.sh_rest)
    for name, texture in data.splat.items():
        shader.image(name, texture)
    shader.image("sort_keys", data.sorter.keys)
    shader.image("sort_values", data.sorter.values)
    forward = camera.forward / np.linalg.norm(camera.forward)
    params = project.pack_params(
        camera.world_to_camera,
        (camera.fx, camera.fy, camera.cx + 0.5, camera.cy + 0.5),
        (float(camera.width), float(camera.height), camera.near, camera.far),
        camera.position,
        float(splat_scale),
        forward,
        camera.frame_box,
        (int(camera.orthographic), min(int(max_sh_degree), data.sh_degree), data.sh_texels, data.count),
    )
    shader.uniform_block("params", params)
    dispatch(shader, -(-data.count // project.LOCAL_SIZE))


def sort_gpu(data: SplatGpuData) -> None:
    data.sorter.run()
    data.sorted_values = data.sorter.values


def sort_cpu(data: SplatGpuData, means: np.ndarray, camera: ViewCamera) -> None:
    """The numpy sort: depths of the object-space means (N,3), np.argsort, upload the order."""
    m = camera.world_to_camera
    depth = np.asarray(means, dtype=np.float64) @ m[2, :3] + m[2, 3]
    valid = (depth >= camera.near) & (depth <= camera.far)
    data.sorted_values = gpu_arrays.upload_scalars(sort_order_cpu(depth, valid))


def draw(
    data: SplatGpuData,
    camera: ViewCamera,
    tint: tuple[float, float, float] | None = None,
    pass_index: int = 0,
    motion: Texture | None = None,
) -> None:
    """Draws into the bound framebuffer (colour targets 0: colour, 1: depth and index sums,
    2: normal sum), back to front. camera: in the splat object's space (with_world).
    tint: scene-linear multiplier of every colour (None: as trained)."""
    shader = shader_cache.get(splat_draw)
    projection = camera.gl_projection()
    shader.bind()
    shader.uniform_sampler("sorted_values", data.sorted_values)
    for name, texture in data.splat.items():
        shader.uniform_sampler(name, texture)
    for name in ("world_mean", "world_rotation", "world_scale"):
        shader.uniform_sampler(name, data.world[name])
    shader.uniform_sampler("splat_motion", motion if motion is not None else _no_motion())
    shader.uniform_int("use_motion", int(motion is not None))
    object_to_camera = camera.world_to_camera[:3, :3]
    normal_matrix = np.eye(4)
    normal_matrix[:3, :3] = np.linalg.inv(object_to_camera).T  # normals under non-uniform scale
    shader.uniform_float("normal_matrix", Matrix(normal_matrix.tolist()))
    shader.uniform_float("camera_local", (*camera.position, float(pass_index)))
    shader.uniform_float("image_size", (float(camera.width), float(camera.height)))
    shader.uniform_float("depth_params", (float(projection[2, 2]), float(projection[2, 3])))
    shader.uniform_int("orthographic", int(camera.orthographic))
    shader.uniform_int("count", data.count)
    shader.uniform_float("tint", (*tint, 1.0) if tint is not None else (1.0, 1.0, 1.0, 0.0))
    gpu.state.blend_set("ALPHA_PREMULT")
    gpu.state.depth_test_set("LESS_EQUAL")
    gpu.state.depth_mask_set(False)
    _quad_batch().draw_instanced(shader, instance_start=0, instance_count=data.count)
    gpu.state.depth_mask_set(True)
    gpu.state.blend_set("NONE")
