"""A studio scene in Blender for the synthetic dataset: the subject mesh (posed each timestep from
the numpy forward, no armature), three-point lighting, the dataset cameras, and Cycles settings.

Coordinates: the subject's mesh data stays in model (Y-up) coordinates and its object carries the
(x, y, z) -> (x, -z, y) rotation, as rigs do; cameras are placed with dataset_cameras, so renders
match the OpenCV cameras written to the dataset exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ...core.datasets.camera import Camera
from ...core.synthetic.regions import MASK_NAMES, vertex_normals
from ..datasets import cameras as dataset_cameras
from .materials import STRAIN_NAMES, Appearance, build_material


@dataclass(frozen=True)
class RenderSettings:
    samples: int = 48
    denoise: bool = True
    # Cycles' adaptive sampling stops pixels whose noise is below this (0 disables it).
    noise_threshold: float = 0.02
    max_bounces: int = 3
    threads: int = 0  # 0: all cores


def reset_scene() -> bpy.types.Scene:
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    assert scene is not None
    return scene


def configure_render(scene: bpy.types.Scene, settings: RenderSettings) -> None:
    scene.render.engine = "CYCLES"  # type: ignore[assignment]  # the stub lists built-in engines only
    cycles = scene.cycles  # type: ignore[attr-defined]
    cycles.device = "CPU"
    cycles.samples = settings.samples
    cycles.use_adaptive_sampling = settings.noise_threshold > 0
    if settings.noise_threshold > 0:
        cycles.adaptive_threshold = settings.noise_threshold
    cycles.use_denoising = settings.denoise
    if settings.denoise:
        cycles.denoiser = "OPENIMAGEDENOISE"
        cycles.denoising_input_passes = "RGB_ALBEDO_NORMAL"
    cycles.max_bounces = settings.max_bounces
    cycles.diffuse_bounces = min(2, settings.max_bounces)
    cycles.glossy_bounces = 1
    cycles.transmission_bounces = 0
    cycles.transparent_max_bounces = 2
    cycles.caustics_reflective = False
    cycles.caustics_refractive = False
    cycles.seed = 0
    scene.render.film_transparent = True
    scene.render.use_persistent_data = True
    if settings.threads:
        scene.render.threads_mode = "FIXED"
        scene.render.threads = settings.threads
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.render.image_settings.color_depth = "8"
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    scene.render.resolution_percentage = 100


def add_subject(
    scene: bpy.types.Scene,
    vertices: np.ndarray,
    faces: np.ndarray,
    rest: np.ndarray,
    masks: Mapping[str, np.ndarray],
    look: Appearance,
    eye_left: np.ndarray,
    eye_right: np.ndarray,
    material: bpy.types.Material | None = None,
) -> bpy.types.Object:
    """The subject mesh with its region masks, in the studio material unless ``material`` is
    given (the capture look's)."""
    mesh = bpy.data.meshes.new("Subject")
    mesh.from_pydata(vertices.tolist(), [], np.asarray(faces).tolist())
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))
    attr = mesh.attributes.new("rest", "FLOAT_VECTOR", "POINT")
    attr.data.foreach_set("vector", np.asarray(rest, dtype=np.float32).reshape(-1))  # type: ignore[attr-defined]
    for name in MASK_NAMES:
        a = mesh.attributes.new(name, "FLOAT", "POINT")
        a.data.foreach_set("value", np.asarray(masks[name], dtype=np.float32))  # type: ignore[attr-defined]
    for name in STRAIN_NAMES:  # zero until set_strain: no creases at rest (and never on the body)
        mesh.attributes.new(name, "FLOAT", "POINT")
    if material is None:
        material = build_material("Subject", look, np.asarray(eye_left), np.asarray(eye_right))
    mesh.materials.append(material)
    obj = bpy.data.objects.new("Subject", mesh)
    obj.rotation_euler = (math.pi / 2, 0.0, 0.0)  # model Y-up -> Blender Z-up, as the rigs do
    scene.collection.objects.link(obj)
    return obj


def set_vertices(obj: bpy.types.Object, vertices: np.ndarray) -> None:
    mesh = obj.data
    assert isinstance(mesh, bpy.types.Mesh)
    mesh.vertices.foreach_set("co", np.asarray(vertices, dtype=np.float32).reshape(-1))
    mesh.update()


def set_strain(obj: bpy.types.Object, compress: np.ndarray, stretch: np.ndarray) -> None:
    """The per-vertex skin compression and stretch (strain.py) that the material shades."""
    mesh = obj.data
    assert isinstance(mesh, bpy.types.Mesh)
    for name, values in zip(STRAIN_NAMES, (compress, stretch), strict=True):
        mesh.attributes[name].data.foreach_set("value", np.asarray(values, dtype=np.float32))  # type: ignore[attr-defined]
    mesh.update()


def hair_shell(vertices: np.ndarray, faces: np.ndarray, hair: np.ndarray, thickness: float) -> np.ndarray:
    """Push hair-covered vertices out along their normals: hair has volume over the scalp."""
    if thickness <= 0 or not np.any(hair > 0):
        return vertices
    return vertices + vertex_normals(vertices, faces) * (hair[:, None] * thickness)


def model_to_blender(point_model: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in point_model)
    return (x, -z, y)


def add_lights(scene: bpy.types.Scene, centre: np.ndarray, size: float) -> None:
    """Key, fill and rim area lights around the subject (positions scale with its size), and a
    dim grey world so no side goes black."""
    world = bpy.data.worlds.new("Studio")
    world.color = (0.25, 0.25, 0.25)
    tree = world.node_tree
    if tree is not None:
        background = tree.nodes.get("Background")
        if background is not None:
            background.inputs["Color"].default_value = (0.30, 0.31, 0.33, 1.0)
            background.inputs["Strength"].default_value = 0.35
    scene.world = world
    d = 3.0 * size
    for name, offset, energy, colour, spread in (
        ("Key", (0.9, 0.7, 1.0), 32.0, (1.0, 0.96, 0.9), 1.2),
        ("Fill", (-1.0, 0.2, 0.8), 13.0, (0.9, 0.95, 1.0), 1.6),
        ("Rim", (0.2, 0.9, -1.1), 22.0, (1.0, 1.0, 1.0), 1.0),
    ):
        data = bpy.data.lights.new(name, "AREA")
        assert isinstance(data, bpy.types.AreaLight)
        data.energy = energy * (size / 0.3) ** 2
        data.color = colour
        data.size = spread * size
        obj = bpy.data.objects.new(name, data)
        pos = centre + d * np.asarray(offset) / np.linalg.norm(offset)
        obj.location = model_to_blender(pos)
        scene.collection.objects.link(obj)
        # Aim at the subject: area lights shine down their -z.
        direction = np.array(model_to_blender(centre)) - np.array(model_to_blender(pos))
        obj.rotation_mode = "QUATERNION"
        from mathutils import Vector

        obj.rotation_quaternion = Vector(direction.tolist()).to_track_quat("-Z", "Y")


def add_cameras(scene: bpy.types.Scene, cameras: Sequence[Camera]) -> list[bpy.types.Object]:
    collection = bpy.data.collections.new("Cameras")
    scene.collection.children.link(collection)
    return [dataset_cameras.create_camera(f"Cam {c.camera_id}", c, collection) for c in cameras]


def render_view(scene: bpy.types.Scene, cam_obj: bpy.types.Object, path: Path) -> Path:
    """Render the active state through ``cam_obj`` to an RGBA PNG at ``path``."""
    dataset_cameras.activate_camera(scene, cam_obj)
    path.parent.mkdir(parents=True, exist_ok=True)
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return path
