"""The capture look of the synthetic head: the subject with the capture materials, smooth eyeballs
and teeth riding on the rig's joints (core/synthetic/interior.py), and mixed lighting with hard
point lights (sharp, moving highlights) beside soft area lights, as a capture stage has.

scene.py keeps the studio look (head version 4) unchanged; this module only adds to it.
"""

from __future__ import annotations

from collections.abc import Mapping

import bpy
import numpy as np

from ...core.rig.model import RigModel
from ...core.synthetic import interior
from . import scene as studio
from .capture_materials import CAPTURE_MASKS, LOCAL, build_eye, build_skin, build_teeth
from .materials import Appearance


class CaptureHead:
    """The capture look's objects; ``pose`` moves the parts with each timestep's joints."""

    def __init__(
        self, scene: bpy.types.Scene, model: RigModel, masks: Mapping[str, np.ndarray], look: Appearance
    ) -> None:
        rest = np.asarray(model.v_template)
        mouth = interior.mouth_inside(model)
        extra = {"mouth": mouth, "tongue": interior.tongue(model)}
        self.subject = studio.add_subject(
            scene, rest, interior.faces_without_eyeballs(model), rest, masks, look,
            masks["eye_left"], masks["eye_right"], material=build_skin("Skin", look),
        )  # fmt: skip
        mesh = self.subject.data
        assert isinstance(mesh, bpy.types.Mesh)
        for name in CAPTURE_MASKS:
            attr = mesh.attributes.new(name, "FLOAT", "POINT")
            attr.data.foreach_set("value", np.asarray(extra[name], dtype=np.float32))  # type: ignore[attr-defined]
        self.rest_joints = np.asarray(model.joint_regressor) @ rest
        self.parts = interior.eyeballs(model) + interior.teeth(model, masks["lips"], mouth)
        eye, teeth = build_eye("Eye", look), build_teeth("Teeth")
        self.objects = [
            _add_part(scene, part, eye if part.name.startswith("eye") else teeth) for part in self.parts
        ]

    def pose(self, transforms: np.ndarray) -> None:
        """Carry every part with its joint: ``transforms`` are the forward pass's (J,4,4)."""
        for part, obj in zip(self.parts, self.objects, strict=True):
            studio.set_vertices(obj, interior.pose_part(part, self.rest_joints, transforms))


def _add_part(scene: bpy.types.Scene, part: interior.Part, material: bpy.types.Material) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(part.name)
    mesh.from_pydata(part.vertices.tolist(), [], np.asarray(part.faces).tolist())
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))
    attr = mesh.attributes.new(LOCAL, "FLOAT_VECTOR", "POINT")
    attr.data.foreach_set("vector", np.asarray(part.local, dtype=np.float32).reshape(-1))  # type: ignore[attr-defined]
    mesh.materials.append(material)
    obj = bpy.data.objects.new(part.name, mesh)
    obj.rotation_euler = (np.pi / 2, 0.0, 0.0)  # model Y-up -> Blender Z-up, as the subject
    scene.collection.objects.link(obj)
    return obj


# name, kind, direction from the subject (model axes: x left of the face, y up, z forward),
# energy (W at the studio's 0.3 m head size), colour, size (area: edge in head sizes; point: radius
# in metres, small = hard shadows and sharp highlights)
CAPTURE_LIGHTS = (
    ("Key", "POINT", (0.8, 0.55, 1.0), 60.0, (1.0, 0.95, 0.88), 0.004),
    ("Kicker", "POINT", (-1.0, 0.05, 0.45), 25.0, (0.92, 0.96, 1.0), 0.006),
    ("Fill", "AREA", (-0.7, 0.1, 1.0), 8.0, (0.95, 0.97, 1.0), 1.8),
    ("Top", "AREA", (0.0, 1.0, 0.15), 10.0, (1.0, 1.0, 1.0), 1.2),
    ("Rim", "AREA", (0.3, 0.7, -1.1), 18.0, (1.0, 1.0, 1.0), 0.8),
)


def add_capture_lights(scene: bpy.types.Scene, centre: np.ndarray, size: float) -> None:
    """Two hard point lights (a key above the camera arc to one side, a kicker from the other
    side) and three soft area lights (fill, top, rim), over a dim grey world."""
    world = bpy.data.worlds.new("Stage")
    tree = world.node_tree
    background = tree.nodes.get("Background") if tree is not None else None
    if background is not None:
        background.inputs["Color"].default_value = (0.30, 0.31, 0.33, 1.0)
        background.inputs["Strength"].default_value = 0.2
    scene.world = world
    from mathutils import Vector

    d = 3.0 * size
    for name, kind, offset, energy, colour, spread in CAPTURE_LIGHTS:
        data = bpy.data.lights.new(name, kind)  # type: ignore[arg-type]
        assert isinstance(data, (bpy.types.PointLight, bpy.types.AreaLight))
        data.energy = energy * (size / 0.3) ** 2
        data.color = colour
        if isinstance(data, bpy.types.AreaLight):
            data.size = spread * size
        else:
            data.shadow_soft_size = spread
        obj = bpy.data.objects.new(name, data)
        pos = centre + d * np.asarray(offset) / np.linalg.norm(offset)
        obj.location = studio.model_to_blender(pos)
        direction = np.array(studio.model_to_blender(centre)) - np.array(studio.model_to_blender(pos))
        obj.rotation_mode = "QUATERNION"
        obj.rotation_quaternion = Vector(direction.tolist()).to_track_quat("-Z", "Y")
        scene.collection.objects.link(obj)
