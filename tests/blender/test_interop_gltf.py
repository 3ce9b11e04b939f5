"""gavatar.export_gltf_avatar / gavatar.import_gltf_avatar (real bpy): an animated avatar goes out as
glTF (Blender's exporter: driver mesh, armature, shape keys, animation) plus a .gavatar sidecar, and
comes back into an empty Blender with the same world-space Gaussians (dynamics and view-dependent
colour included) and the same rig pose at every frame; broken pairs import nothing."""

from __future__ import annotations

import time
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.fixtures.engine import addon_module

render = pytest.importorskip("tests.engine.test_render")
FRAMES = range(1, 6)


def _snapshot(splat, driver, armature, joints) -> dict:
    ply_io = addon_module("ops.ply_io")
    scene = bpy.context.scene
    out = {}
    for frame in FRAMES:
        scene.frame_set(frame)
        depsgraph = bpy.context.evaluated_depsgraph_get()
        gaussians = ply_io.world_gaussians(splat, depsgraph)
        ev = driver.evaluated_get(depsgraph)
        matrix = np.array(ev.matrix_world)
        verts = np.array([v.co for v in ev.data.vertices]) @ matrix[:3, :3].T + matrix[:3, 3]
        verts = verts[addon_module("engine.splats.driver_mesh").triangles(driver.data)]  # triangle corners
        arm_world = np.array(armature.matrix_world)
        bones = {name: arm_world @ np.array(armature.pose.bones[name].matrix) for name in joints}
        out[frame] = (gaussians, verts, bones)
    return out


@pytest.fixture
def animated(clean_scene: None):
    parts, splat, arrays, _model = render.build_avatar(rank=3)
    pose_io = addon_module("blender.rig.pose_io")
    rng = np.random.default_rng(7)
    pose_io.write_pose(parts, {"betas": rng.normal(0.0, 1.0, 4)})
    scene = bpy.context.scene
    for frame in (1, 3, 5):
        scene.frame_set(frame)
        pose_io.write_pose(
            parts, {"pose": rng.normal(0.0, 0.3, (5, 3)), "expression": rng.normal(0.0, 1.5, 5),
                    "transl": rng.normal(0.0, 0.02, 3)}, keyframe=True,
        )  # fmt: skip
    scene.frame_start, scene.frame_end = 1, 5
    bpy.context.view_layer.objects.active = splat
    return parts, splat, arrays


def _add_loose_vertex(mesh_obj) -> None:
    """A vertex in no triangle (glTF drops it, so the imported mesh has other vertex indices)."""
    import bmesh

    mesh = mesh_obj.data
    bm = bmesh.new()
    bm.from_mesh(mesh)
    bm.verts.new((0.0, 0.3, 0.0))
    bm.to_mesh(mesh)
    bm.free()
    mesh.update()


def test_round_trip_through_gltf_keeps_gaussians_and_pose(animated, tmp_path: Path) -> None:
    parts, splat, _arrays = animated
    _add_loose_vertex(parts.mesh)
    joints = list(parts.joint_names)
    names = (splat.name, parts.mesh.name)
    parts_vertices = list(range(len(parts.mesh.data.vertices)))
    before = _snapshot(splat, parts.mesh, parts.armature, joints)
    objects_before = sorted(o.name for o in bpy.data.objects)
    out = tmp_path / "head.glb"
    started = time.perf_counter()
    assert bpy.ops.gavatar.export_gltf_avatar(filepath=str(out)) == {"FINISHED"}
    export_s = time.perf_counter() - started
    assert out.is_file() and (tmp_path / "head.gavatar").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.gavatar", "head.glb"]  # no temporaries
    assert sorted(o.name for o in bpy.data.objects) == objects_before  # the scene is as it was
    assert parts.mesh.data.shape_keys.animation_data.drivers  # drivers kept

    bpy.ops.wm.read_homefile(use_empty=True)
    started = time.perf_counter()
    assert bpy.ops.gavatar.import_gltf_avatar(filepath=str(out)) == {"FINISHED"}
    import_s = time.perf_counter() - started
    splat2 = bpy.data.objects[names[0]]
    driver2 = splat2.gavatar_splat.driver
    armature2 = addon_module("engine.splats.driver_mesh").driver_armature(driver2)
    assert driver2.name == names[1] and armature2 is not None
    assert len(driver2.data.vertices) == len(parts_vertices) - 1  # the loose vertex is not in the glb
    assert sorted(o.type for o in bpy.data.objects) == ["ARMATURE", "MESH", "MESH"]  # rig mesh + splats
    assert (bpy.context.scene.frame_start, bpy.context.scene.frame_end) == (1, 5)
    after = _snapshot(splat2, driver2, armature2, joints)
    worst = {
        "means": 0.0,
        "quats": 0.0,
        "log_scales": 0.0,
        "opacity": 0.0,
        "sh": 0.0,
        "verts": 0.0,
        "bones": 0.0,
    }
    for frame in FRAMES:
        (g1, v1, b1), (g2, v2, b2) = before[frame], after[frame]
        worst["means"] = max(worst["means"], float(np.abs(g1.means - g2.means).max()))
        q1 = g1.quats / np.linalg.norm(g1.quats, axis=1, keepdims=True)
        q2 = g2.quats / np.linalg.norm(g2.quats, axis=1, keepdims=True)
        worst["quats"] = max(worst["quats"], float(np.minimum(np.abs(q1 - q2), np.abs(q1 + q2)).max()))
        worst["log_scales"] = max(worst["log_scales"], float(np.abs(g1.log_scales - g2.log_scales).max()))
        worst["opacity"] = max(worst["opacity"], float(np.abs(g1.opacity_logits - g2.opacity_logits).max()))
        worst["sh"] = max(worst["sh"], float(np.abs(g1.sh - g2.sh).max()))
        worst["verts"] = max(worst["verts"], float(np.abs(v1 - v2).max()))
        worst["bones"] = max(worst["bones"], max(float(np.abs(b1[n] - b2[n]).max()) for n in joints))
    print(f"glTF round trip: export {export_s:.2f} s, import {import_s:.2f} s; worst over "
          f"{len(FRAMES)} frames: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))  # fmt: skip
    # The frames really move (not one pose five times).
    assert np.abs(before[1][0].means - before[5][0].means).max() > 1e-3
    assert worst["means"] < 1e-5 and worst["verts"] < 1e-5 and worst["bones"] < 1e-5
    assert worst["quats"] < 1e-5 and worst["log_scales"] < 1e-5
    assert worst["opacity"] < 1e-5 and worst["sh"] < 1e-5


def test_broken_pairs_import_nothing(animated, tmp_path: Path) -> None:
    out = tmp_path / "head.glb"
    assert bpy.ops.gavatar.export_gltf_avatar(filepath=str(out)) == {"FINISHED"}
    bpy.ops.wm.read_homefile(use_empty=True)

    def counts() -> tuple[int, ...]:
        return tuple(len(getattr(bpy.data, k)) for k in ("objects", "meshes", "armatures", "actions"))

    sidecar = tmp_path / "head.gavatar"
    moved = tmp_path / "elsewhere.gavatar"
    sidecar.rename(moved)
    before = counts()
    with pytest.raises(RuntimeError, match=r"has no sidecar 'head\.gavatar'"):
        bpy.ops.gavatar.import_gltf_avatar(filepath=str(out))
    assert counts() == before
    # A sidecar whose Gaussians sit on other triangles than the glTF's: refused after the glTF
    # import, and everything the importer made is removed again.
    avatar_file = addon_module("core.avatar.avatar_file")
    binding = addon_module("core.avatar.binding")
    avatar = avatar_file.read_avatar(moved)
    b = avatar.binding
    avatar.binding = binding.Binding(np.roll(b.parent_face, 1), b.offset, b.rotation, b.log_scale)
    avatar_file.write_avatar(sidecar, avatar)
    with pytest.raises(RuntimeError, match="does not carry the Gaussians as exported"):
        bpy.ops.gavatar.import_gltf_avatar(filepath=str(out))
    assert counts() == before
    # A plain .gavatar without the glTF section.
    del avatar.header["gltf"]
    avatar_file.write_avatar(sidecar, avatar)
    with pytest.raises(RuntimeError, match="no glTF sidecar"):
        bpy.ops.gavatar.import_gltf_avatar(filepath=str(out))
    assert counts() == before


def test_export_refuses_what_it_cannot_write(animated, tmp_path: Path) -> None:
    parts, _splat, _arrays = animated
    bpy.context.view_layer.objects.active = parts.armature  # the rig's armature finds its avatar too
    with pytest.raises(RuntimeError, match=r"one binary \.glb"):
        bpy.ops.gavatar.export_gltf_avatar(filepath=str(tmp_path / "head.gltf"))
    with pytest.raises(RuntimeError, match=r"frame range 4\.\.2 is empty"):
        bpy.ops.gavatar.export_gltf_avatar(filepath=str(tmp_path / "head.glb"), frame_start=4, frame_end=2)
    assert list(tmp_path.iterdir()) == []
