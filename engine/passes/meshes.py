"""Scene meshes in simple solid shading: triangle batches of evaluated meshes, drawn with depth
before the Gaussians so the splats are depth-tested against them."""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np
from mathutils import Matrix

from ...core import colour
from ...core.cameras import ViewCamera
from .. import shaders as shader_cache
from ..gpu.api import Batch, batch, gpu
from ..shaders import mesh_solid

DEFAULT_COLOR = (0.8, 0.8, 0.8)  # scene-linear, like Blender's solid-mode default


@dataclass
class MeshDraw:
    batch: Batch
    matrix_world: np.ndarray  # (4,4)
    color_srgb: tuple[float, float, float]
    pass_index: int = 0


def _batch_of_mesh(mesh: bpy.types.Mesh) -> Batch | None:
    mesh.calc_loop_triangles()
    tris = len(mesh.loop_triangles)
    if not tris:
        return None
    corners = np.empty(tris * 3, dtype=np.int32)
    mesh.loop_triangles.foreach_get("loops", corners)
    corner_verts = np.empty(len(mesh.loops), dtype=np.int32)
    mesh.loops.foreach_get("vertex_index", corner_verts)
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", co)
    normals = np.empty(len(mesh.loops) * 3, dtype=np.float32)
    mesh.corner_normals.foreach_get("vector", normals)
    positions = co.reshape(-1, 3)[corner_verts[corners]]
    return batch("TRIS", {"position": positions, "normal": normals.reshape(-1, 3)[corners]})


def _color(obj: bpy.types.Object) -> tuple[float, float, float]:
    material = obj.active_material
    base = tuple(material.diffuse_color[:3]) if material is not None else DEFAULT_COLOR
    tint = tuple(obj.color[:3])
    linear = np.array(base) * np.array(tint)
    srgb = colour.linear_to_srgb(np.clip(linear, 0.0, 1.0))
    return (float(srgb[0]), float(srgb[1]), float(srgb[2]))


class MeshBatchCache:
    """Batches of evaluated meshes by object name; ``forget`` drops one when its geometry changes."""

    def __init__(self) -> None:
        self._batches: dict[str, Batch | None] = {}

    def forget(self, name: str) -> None:
        self._batches.pop(name, None)

    def clear(self) -> None:
        self._batches.clear()

    def draw_of(self, obj_eval: bpy.types.Object, matrix_world: Matrix) -> MeshDraw | None:
        name = obj_eval.name
        if name not in self._batches:
            mesh = obj_eval.data
            self._batches[name] = _batch_of_mesh(mesh) if isinstance(mesh, bpy.types.Mesh) else None
        batch = self._batches[name]
        if batch is None:
            return None
        matrix = np.array(matrix_world, dtype=np.float64)
        return MeshDraw(batch, matrix, _color(obj_eval), int(obj_eval.pass_index))


def draw(meshes: list[MeshDraw], camera: ViewCamera) -> None:
    """Draws opaque meshes into the bound framebuffer with depth test and depth writes."""
    if not meshes:
        return
    shader = shader_cache.get(mesh_solid)
    shader.bind()
    view = camera.gl_view()
    shader.uniform_float("projection", Matrix(camera.gl_projection().tolist()))
    gpu.state.depth_test_set("LESS_EQUAL")
    gpu.state.depth_mask_set(True)
    gpu.state.face_culling_set("NONE")
    gpu.state.blend_set("NONE")
    for mesh in meshes:
        shader.uniform_float("model_view", Matrix((view @ mesh.matrix_world).tolist()))
        shader.uniform_float("base_color", (*mesh.color_srgb, float(mesh.pass_index)))
        mesh.batch.draw(shader)
