"""The 4D dataset's toy scene in Blender: a striped ball, a cube with a colour per side pair and a
two-tone arm (plain Principled materials), lit by a sun and a soft world, placed at a time by
core/synthetic/dynamic.py's ``scene_state``. Renders use the synthetic head's Cycles settings."""

from __future__ import annotations

import bpy

from ...core.synthetic.dynamic import ObjectState
from .materials import srgb_to_linear


def _material(name: str, colour: tuple[float, float, float]) -> bpy.types.Material:
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    tree = material.node_tree
    assert tree is not None
    bsdf = tree.nodes.get("Principled BSDF")
    assert bsdf is not None
    bsdf.inputs["Base Color"].default_value = srgb_to_linear(colour)  # type: ignore[attr-defined]
    bsdf.inputs["Roughness"].default_value = 0.7  # type: ignore[attr-defined]
    return material


def _mesh_object(name: str, mesh: bpy.types.Mesh, scene: bpy.types.Scene) -> bpy.types.Object:
    obj = bpy.data.objects.new(name, mesh)
    scene.collection.objects.link(obj)
    obj.rotation_mode = "XYZ"
    return obj


def _assign_by(obj: bpy.types.Object, materials: list[bpy.types.Material], pick) -> None:
    mesh = obj.data
    assert isinstance(mesh, bpy.types.Mesh)
    for material in materials:
        mesh.materials.append(material)
    for polygon in mesh.polygons:
        polygon.material_index = pick(polygon)


def add_toys(scene: bpy.types.Scene) -> dict[str, bpy.types.Object]:
    """The three moving objects, at the origin until ``place`` moves them."""
    import bmesh

    toys: dict[str, bpy.types.Object] = {}
    # Ball: radius 0.18 with three bands of colour (so its spin and squash show).
    mesh = bpy.data.meshes.new("ball")
    bm = bmesh.new()
    bmesh.ops.create_uvsphere(bm, u_segments=24, v_segments=16, radius=0.18)
    bm.to_mesh(mesh)
    bm.free()
    toys["ball"] = ball = _mesh_object("ball", mesh, scene)
    bands = [_material("ball red", (0.85, 0.15, 0.12)), _material("ball white", (0.95, 0.93, 0.88))]
    _assign_by(ball, bands, lambda p: int(abs(p.center.z) > 0.06))
    # Cube: 0.32 wide, one colour per pair of opposite sides.
    mesh = bpy.data.meshes.new("cube")
    bm = bmesh.new()
    bmesh.ops.create_cube(bm, size=0.32)
    bm.to_mesh(mesh)
    bm.free()
    toys["cube"] = cube = _mesh_object("cube", mesh, scene)
    sides = [
        _material(f"cube {i}", c)
        for i, c in enumerate(((0.15, 0.35, 0.85), (0.95, 0.75, 0.1), (0.2, 0.65, 0.3)))
    ]
    _assign_by(cube, sides, lambda p: max(range(3), key=lambda a: abs(p.normal[a])))
    # Arm: a 0.7 long bar hanging from its hinge at the object's origin, dark above, orange below.
    mesh = bpy.data.meshes.new("arm")
    bm = bmesh.new()
    bmesh.ops.create_cube(bm, size=1.0)
    bmesh.ops.scale(bm, vec=(0.08, 0.12, 0.7), verts=list(bm.verts))
    bmesh.ops.translate(bm, vec=(0.0, 0.0, -0.35), verts=list(bm.verts))
    bm.to_mesh(mesh)
    bm.free()
    toys["arm"] = arm = _mesh_object("arm", mesh, scene)
    two_tone = [_material("arm dark", (0.2, 0.2, 0.25)), _material("arm orange", (0.95, 0.45, 0.1))]
    _assign_by(arm, two_tone, lambda p: int(p.center.z < -0.35))
    return toys


def add_light(scene: bpy.types.Scene) -> None:
    """A sun from above-front and a grey world: soft, view-independent shading."""
    sun = bpy.data.lights.new("sun", "SUN")
    sun.energy = 3.0  # type: ignore[attr-defined]
    obj = bpy.data.objects.new("sun", sun)
    obj.rotation_euler = (0.6, 0.2, 0.8)
    scene.collection.objects.link(obj)
    world = bpy.data.worlds.new("world")
    world.use_nodes = True
    tree = world.node_tree
    assert tree is not None
    background = tree.nodes.get("Background")
    assert background is not None
    background.inputs["Color"].default_value = (0.45, 0.45, 0.45, 1.0)  # type: ignore[attr-defined]
    scene.world = world


def place(toys: dict[str, bpy.types.Object], states: dict[str, ObjectState]) -> None:
    for name, state in states.items():
        obj = toys[name]
        obj.location = state.location
        obj.rotation_euler = state.rotation
        obj.scale = state.scale
