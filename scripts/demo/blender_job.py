"""The demo's Blender stage, run in its own bpy process: install the built extension, import the
avatar onto its rig, animate it with keyframes (an expression and head-turn sweep; retargeted
AMASS motion where the real clip is found), render the sequence with GAVATAR, save the .blend.

Prints JSON lines on stdout (``step``, ``frame``, ``done``) for the demo's progress bar.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ADDON = "bl_ext.user_default.gaussian_avatar"


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def install_extension(out: Path) -> None:
    os.environ["BLENDER_USER_RESOURCES"] = str(out / "blender-user")
    sys.path.insert(0, str(ROOT))
    from scripts import extension_build

    zip_path = extension_build.build(ROOT / "build")
    import bpy

    if ADDON not in bpy.context.preferences.addons:
        result = bpy.ops.extensions.package_install_files(
            filepath=str(zip_path), repo="user_default", enable_on_install=True
        )
        if result != {"FINISHED"}:
            raise RuntimeError(f"installing {zip_path} into bpy failed: {result}")


def addon_module(name: str) -> Any:
    return importlib.import_module(f"{ADDON}.{name}")


def frame_head(scene: Any, mesh_obj: Any, camera: Any, aspect: float = 1.0) -> None:
    """Puts the camera in front of the face (model +Z is Blender -Y), framing the driver mesh."""
    from mathutils import Vector

    corners = [mesh_obj.matrix_world @ Vector(c) for c in mesh_obj.bound_box]
    low = Vector((min(c.x for c in corners), min(c.y for c in corners), min(c.z for c in corners)))
    high = Vector((max(c.x for c in corners), max(c.y for c in corners), max(c.z for c in corners)))
    center = (low + high) / 2
    size = max(high.x - low.x, high.z - low.z)
    camera.data.lens = 50.0
    camera.data.sensor_width = 36.0
    distance = 1.35 * size * camera.data.lens / camera.data.sensor_width
    camera.location = (center.x, center.y - distance - (high.y - low.y) / 2, center.z)
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)


def world_axis_rotation(armature: Any, bone_name: str, axis: tuple[float, float, float], angle: float) -> Any:
    """Pose-bone quaternion rotating the bone by angle about an axis given in armature space."""
    from mathutils import Quaternion

    rest = armature.data.bones[bone_name].matrix_local.to_quaternion()
    return rest.inverted() @ Quaternion(axis, angle) @ rest


def key_expression(mesh_obj: Any, rig_info: Any, name: str, frames_values: list[tuple[int, float]]) -> bool:
    names = [item.name for item in rig_info.expression_names]
    if name not in names:
        return False
    key = mesh_obj.data.shape_keys.key_blocks.get(f"Exp{names.index(name):03d}")
    if key is None:
        return False
    for frame, value in frames_values:
        key.value = value
        key.keyframe_insert("value", frame=frame)
    return True


def animate_head_sweep(parts: Any, frames: int) -> list[str]:
    """Keyframes: head turn left-right with a nod, jaw open, smile, brows, a blink."""
    armature, mesh_obj = parts.armature, parts.mesh
    notes = []
    last = frames
    turn = [(1, 0.0), (last // 4, -0.45), (last // 2, 0.0), (3 * last // 4, 0.45), (last, 0.0)]
    nod = [(1, 0.0), (last // 3, 0.15), (2 * last // 3, -0.12), (last, 0.0)]
    neck = armature.pose.bones["neck"]
    neck.rotation_mode = "QUATERNION"
    keyed: dict[int, float] = {}
    for frame, angle in turn:
        keyed[frame] = angle
    for frame in sorted(set(keyed) | {f for f, _ in nod}):
        yaw = _interp(turn, frame)
        pitch = _interp(nod, frame)
        q_yaw = world_axis_rotation(armature, "neck", (0.0, 1.0, 0.0), yaw)
        q_pitch = world_axis_rotation(armature, "neck", (1.0, 0.0, 0.0), pitch)
        neck.rotation_quaternion = q_yaw @ q_pitch
        neck.keyframe_insert("rotation_quaternion", frame=frame)
    jaw = armature.pose.bones["jaw"]
    jaw.rotation_mode = "QUATERNION"
    for frame, angle in [(1, 0.0), (last // 5, 0.0), (last // 3, 0.25), (last // 2, 0.0), (last, 0.0)]:
        jaw.rotation_quaternion = world_axis_rotation(armature, "jaw", (1.0, 0.0, 0.0), angle)
        jaw.keyframe_insert("rotation_quaternion", frame=frame)
    info = parts.info
    sweeps = {
        "jawOpen": [(1, 0.0), (last // 5, 0.0), (last // 3, 0.7), (last // 2, 0.0)],
        "mouthSmileLeft": [(last // 2, 0.0), (2 * last // 3, 0.9), (5 * last // 6, 0.0)],
        "mouthSmileRight": [(last // 2, 0.0), (2 * last // 3, 0.9), (5 * last // 6, 0.0)],
        "browInnerUp": [(1, 0.0), (last // 4, 0.8), (last // 2, 0.0)],
        "eyeBlinkLeft": [(3 * last // 4 - 2, 0.0), (3 * last // 4, 1.0), (3 * last // 4 + 2, 0.0)],
        "eyeBlinkRight": [(3 * last // 4 - 2, 0.0), (3 * last // 4, 1.0), (3 * last // 4 + 2, 0.0)],
    }
    keyed_names = [name for name, keys in sweeps.items() if key_expression(mesh_obj, info, name, keys)]
    if not keyed_names:
        # PCA expressions (real FLAME): sweep the first components instead.
        for index in range(min(3, info.num_expression)):
            key = mesh_obj.data.shape_keys.key_blocks.get(f"Exp{index:03d}")
            for frame, value in [(1, 0.0), ((index + 1) * last // 5, 1.5), ((index + 2) * last // 5, 0.0)]:
                key.value = value
                key.keyframe_insert("value", frame=frame)
            keyed_names.append(key.name)
    notes.append(f"keyframed neck turn and nod, jaw, and expressions {', '.join(keyed_names)}")
    return notes


def _interp(keys: list[tuple[int, float]], frame: int) -> float:
    for (f0, v0), (f1, v1) in itertools.pairwise(keys):
        if f0 <= frame <= f1:
            return v0 + (v1 - v0) * (frame - f0) / max(f1 - f0, 1)
    return keys[-1][1]


def add_amass_head_motion(parts: Any, clip_path: Path, start: int, count: int, fps: float) -> str:
    """Retargets a real AMASS clip's neck and head rotation onto the FLAME rig's neck."""
    from mathutils import Matrix

    amass = addon_module("core.motion.amass")
    rotations = addon_module("core.rotations")
    clip = amass.resample_clip(amass.read_amass(clip_path), fps)
    frames = min(count, clip.num_frames)
    # SMPL body joints: neck is joint 12, head 15 (body_pose holds joints 1..21).
    neck_head = rotations.axis_angle_to_matrix(clip.body_pose[:frames, 11]) @ rotations.axis_angle_to_matrix(
        clip.body_pose[:frames, 14]
    )
    armature = parts.armature
    bone = armature.pose.bones["neck"]
    rest = armature.data.bones["neck"].matrix_local.to_3x3()
    for i in range(frames):
        model_rot = Matrix(neck_head[i].tolist())
        bone.rotation_quaternion = (rest.inverted() @ model_rot @ rest).to_quaternion()
        bone.keyframe_insert("rotation_quaternion", frame=start + i)
    source = f"{clip_path.name} ({clip.layout}, {clip.fps:g} fps)"
    return f"retargeted {frames} frames of neck/head motion from {source}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--avatar", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--subject", choices=["head", "body"], default="head")
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--amass", type=Path, default=None)
    args = parser.parse_args()
    out: Path = args.out.resolve()
    timings: dict[str, float] = {}
    notes: list[str] = []

    start = time.perf_counter()
    emit("step", message="installing the extension into bpy")
    install_extension(out)
    import bpy

    timings["install"] = time.perf_counter() - start

    start = time.perf_counter()
    emit("step", message="importing the avatar")
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps = 24
    scene.frame_start, scene.frame_end = 1, args.frames
    result = bpy.ops.gavatar.import_avatar(filepath=str(args.avatar), model_path=str(args.model))
    if result != {"FINISHED"}:
        raise RuntimeError(f"import_avatar failed for {args.avatar}")
    splat_data = addon_module("engine.splats.data")
    splat = next(obj for obj in scene.objects if splat_data.is_splat_object(obj))
    parts = addon_module("blender.rig.parts").find_rig(splat_data.splat_driver(splat))
    timings["import"] = time.perf_counter() - start

    start = time.perf_counter()
    emit("step", message="animating")
    if args.subject == "head":
        sweep = args.frames
        clip = args.amass
        if clip is None:
            sys.path.insert(0, str(ROOT))
            from tests.fixtures.real_data import real_file

            clip = real_file("amass_sample_smplh.npz")
        if clip is not None and args.frames >= 48:
            sweep = args.frames // 2
            notes.append(add_amass_head_motion(parts, clip, sweep + 1, args.frames - sweep, scene.render.fps))
        notes += animate_head_sweep(parts, sweep)
    else:
        clip = args.amass
        if clip is None:
            sys.path.insert(0, str(ROOT))
            from tests.fixtures.real_data import real_file

            clip = real_file("amass_sample_smplh.npz")
        if clip is None:
            raise RuntimeError("the body demo needs an AMASS clip (--amass)")
        result = bpy.ops.gavatar.import_amass(filepath=str(clip), target=parts.armature.name)
        if result != {"FINISHED"}:
            raise RuntimeError(f"import_amass failed for {clip}")
        notes.append(f"AMASS clip {clip.name} imported onto the SMPL-X rig")
    timings["animate"] = time.perf_counter() - start

    camera = bpy.data.objects.new("DemoCamera", bpy.data.cameras.new("DemoCamera"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    frame_head(scene, parts.mesh, camera)
    world = bpy.data.worlds.new("DemoWorld")
    world.color = tuple(splat.gavatar_splat.background)
    scene.world = world
    scene.render.engine = "GAVATAR"
    scene.render.resolution_x = scene.render.resolution_y = args.resolution
    scene.render.resolution_percentage = 100
    scene.render.dither_intensity = 0.0
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "PNG"

    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    rendered: list[str] = []
    start = time.perf_counter()
    for index, frame in enumerate(range(scene.frame_start, scene.frame_end + 1), start=1):
        scene.frame_set(frame)
        path = frames_dir / f"frame_{frame:04d}.png"
        scene.render.filepath = str(path)
        bpy.ops.render.render(write_still=True)
        rendered.append(str(path))
        emit("frame", index=index, count=args.frames, path=str(path))
    timings["render"] = time.perf_counter() - start

    blend = out / "demo.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    emit(
        "done",
        frames=rendered,
        blend=str(blend),
        fps=scene.render.fps,
        timings=timings,
        notes=notes,
        gaussians=len(splat.data.vertices),
        per_frame_render_s=timings["render"] / max(len(rendered), 1),
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as ex:  # the demo shows this message at the stage that broke
        print(f"blender stage: {ex}", file=sys.stderr)
        raise
