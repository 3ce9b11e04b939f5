"""Rig benchmark: time to add FLAME / SMPL-X rigs; SMPL-X playback with and without live correctives.

    .venv/bin/python benchmarks/rig_playback.py [--frames 60] [--rounds 3] [--flame PATH] [--smplx PATH]

Models: the given files, else the free stand-ins when they have been built, else full-size
generated files in the real formats (FLAME 5023 vertices, SMPL-X 10475; random contents, real sizes:
300 shape + 100 expression components, all pose correctives). Playback: ``scene.frame_set`` over an
animated range (smooth random poses, expressions and identity, keyframed), then the driver mesh the
depsgraph evaluated is read (``obj.evaluated_get(depsgraph).data``), as the render engine does.

On one SMPL-X rig and one animation, rounds interleave:
- drivers: the live correctives add_rig makes (simple-expression drivers on the bones' evaluated
  local rotations, 9 keys per joint);
- none: the corrective keys muted (the rig's Live Correctives switch off);
- python handler: correctives muted, a frame_change_pre handler writing one combined corrective key
  with numpy instead (the alternative mechanism, for comparison; it ignores constraints).
Figures: median frames per second (wall clock, sensitive to other load on the machine) and median
CPU milliseconds per frame (all of Blender's threads; steadier on a shared machine).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="gavatar-bench-user-"))

import bpy  # noqa: E402

from core.rig import lbs, loaders  # noqa: E402
from tests.fixtures.blender_helpers import ADDON_MODULE, enable_addon_from_source  # noqa: E402


def _rig_module(name: str) -> Any:
    return importlib.import_module(f"{ADDON_MODULE}.blender.rig.{name}")


def _model_file(family: str, given: str, folder: Path) -> tuple[Path, str]:
    if given:
        return Path(given), "given file"
    found = _rig_module("model_source").standin_path(family, "")
    if found is not None:
        return found, "free stand-in"
    from tests.fixtures.files import rig_files

    if family == "FLAME":
        path = rig_files.flame_2023_pickle(folder, num_vertices=5023, num_faces=9976)
    else:
        path = rig_files.smplx_npz(folder, num_vertices=10475, num_faces=20908)
    return path, "generated full-size file (stand-in not built)"


def time_add_rig(family: str, path: Path) -> tuple[float, float, float, Any]:
    """(seconds to load the file, to build the rig from the loaded model, for the add_rig operator
    in all (load + build)), and the operator's rig."""
    bpy.ops.wm.read_homefile(use_empty=True)
    start = time.perf_counter()
    model = loaders.load_model(path, family=family)
    load = time.perf_counter() - start
    start = time.perf_counter()
    _rig_module("build").build_rig(model)
    build = time.perf_counter() - start
    bpy.ops.wm.read_homefile(use_empty=True)
    start = time.perf_counter()
    result = bpy.ops.gavatar.add_rig(family=family, model_path=str(path))
    total = time.perf_counter() - start
    assert result == {"FINISHED"}
    return load, build, total, _rig_module("parts").active_rig(bpy.context)


def animate(parts: Any, frames: int, seed: int = 0) -> None:
    """Smooth random poses and expressions, keyframed on frames 1..frames."""
    rng = np.random.default_rng(seed)
    joints = len(parts.joint_names)
    keys = max(frames // 10, 2)
    anchors = rng.normal(scale=0.35, size=(keys, joints, 3))
    expr_anchors = rng.normal(scale=1.0, size=(keys, parts.info.num_expression))
    t = np.linspace(0, keys - 1, frames)
    lo = np.floor(t).astype(int).clip(0, keys - 2)
    w = (t - lo)[:, None, None]
    pose = anchors[lo] * (1 - w) + anchors[lo + 1] * w
    expression = expr_anchors[lo] * (1 - w[:, :, 0]) + expr_anchors[lo + 1] * w[:, :, 0]
    inputs = {
        "betas": rng.normal(size=parts.info.num_shape),
        "expression": expression,
        "pose": pose,
        "transl": np.cumsum(rng.normal(scale=0.01, size=(frames, 3)), axis=0),
    }
    _rig_module("pose_io").write_pose(parts, inputs, keyframe=True, frame_start=1)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, frames


def playback(parts: Any, frames: int) -> tuple[float, float]:
    """(frames per second, CPU ms per frame) of frame_set + reading the evaluated driver mesh."""
    scene = bpy.context.scene
    mesh_obj = parts.mesh
    buffer = np.empty(len(mesh_obj.data.vertices) * 3, dtype=np.float32)
    scene.frame_set(1)
    wall, cpu = time.perf_counter(), time.process_time()
    for frame in range(1, frames + 1):
        scene.frame_set(frame)
        depsgraph = bpy.context.evaluated_depsgraph_get()
        mesh_obj.evaluated_get(depsgraph).data.vertices.foreach_get("co", buffer)
    return frames / (time.perf_counter() - wall), 1000 * (time.process_time() - cpu) / frames


def check_frame(parts: Any, model: Any, frame: int) -> float:
    """Max vertex error (m, model space) at one frame against the numpy forward of the read-back pose."""
    bpy.context.scene.frame_set(frame)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    mesh = parts.mesh.evaluated_get(depsgraph).data
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", co)
    back = _rig_module("pose_io").read_pose(parts, depsgraph)
    return float(np.abs(co.reshape(-1, 3) - lbs.forward(model, **back).vertices).max())


def handler_correctives(parts: Any, model: Any) -> Callable[..., None]:
    """A frame_change_pre handler writing pose_dirs @ features into one 'Corrective' key (numpy)."""
    build = _rig_module("build")
    mesh_data = _rig_module("mesh_data")
    basis = model.v_template
    key = mesh_data.add_shape_key(parts.mesh, "Corrective", basis, np.zeros_like(basis), 1.0)
    key.value = 1.0
    names = parts.joint_names
    _, frames = build.bone_rest_frames(parts.armature, names)
    pose_dirs = model.pose_dirs.reshape(-1, model.pose_dirs.shape[-1])
    bones = [parts.armature.pose.bones[n] for n in names]
    points = mesh_data.key_points(key)

    def on_frame(scene: Any, _depsgraph: Any = None) -> None:
        # Animation is evaluated after frame_change_pre: read the F-curves at this frame ourselves.
        action = parts.armature.animation_data.action
        quats = np.empty((len(names), 4))
        for j, bone in enumerate(bones):
            for c in range(4):
                fcurve = _fcurve(action, f'pose.bones["{bone.name}"].rotation_quaternion', c)
                quats[j, c] = fcurve.evaluate(scene.frame_current) if fcurve else bone.rotation_quaternion[c]
        from core import rotations
        from core.rig import bone_frames

        local = rotations.quaternion_to_matrix(quats)
        model_rot = bone_frames.local_to_model(local, frames)
        offsets = (pose_dirs @ lbs.pose_features(model_rot)).reshape(-1, 3)
        points.foreach_set("co", (basis + offsets).astype(np.float32).ravel())

    bpy.app.handlers.frame_change_pre.append(on_frame)
    return on_frame


def _fcurve(action: Any, path: str, index: int) -> Any:
    if hasattr(action, "layers") and action.layers:
        for layer in action.layers:
            for strip in layer.strips:
                for bag in strip.channelbags:
                    found = bag.fcurves.find(path, index=index)
                    if found:
                        return found
        return None
    return action.fcurves.find(path, index=index)


VARIANTS = ("drivers", "none", "python handler")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flame", default="", help="FLAME model file (default: stand-in or generated)")
    parser.add_argument("--smplx", default="", help="SMPL-X model file (default: stand-in or generated)")
    args = parser.parse_args()
    enable_addon_from_source()
    print(f"Blender {bpy.app.version_string}, {os.cpu_count()} CPU threads, {args.frames} frames")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = {f: _model_file(f, getattr(args, f.lower()), folder) for f in ("FLAME", "SMPLX")}
        for family, (path, what) in paths.items():
            load, build, total, parts = time_add_rig(family, path)
            keys = len(parts.mesh.data.shape_keys.key_blocks) - 1
            print(
                f"add_rig {family:5s} ({what}, {len(parts.mesh.data.vertices)} vertices, {keys} shape keys): "
                f"operator {total:.2f} s; separately: load the file {load:.2f} s, build the rig {build:.2f} s"
            )
        path = paths["SMPLX"][0]
        model = loaders.load_model(path, family="SMPLX")
        bpy.ops.wm.read_homefile(use_empty=True)
        bpy.ops.gavatar.add_rig(family="SMPLX", model_path=str(path))
        parts = _rig_module("parts").active_rig(bpy.context)
        animate(parts, args.frames)
        handler = handler_correctives(parts, model)
        bpy.app.handlers.frame_change_pre.remove(handler)
        corrective = parts.mesh.data.shape_keys.key_blocks["Corrective"]
        results: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
        errors: dict[str, float] = {}
        for _ in range(args.rounds):
            for variant in VARIANTS:
                parts.info.live_correctives = variant == "drivers"
                corrective.mute = variant != "python handler"
                if variant == "python handler":
                    bpy.app.handlers.frame_change_pre.append(handler)
                results[variant].append(playback(parts, args.frames))
                if variant != "none":
                    errors[variant] = max(
                        errors.get(variant, 0.0), check_frame(parts, model, args.frames // 2 + 1)
                    )
                if variant == "python handler":
                    bpy.app.handlers.frame_change_pre.remove(handler)
        medians = {v: np.median(np.array(r), axis=0) for v, r in results.items()}
        for variant, (fps, cpu) in medians.items():
            tail = f", max vertex error {errors[variant]:.1e} m" if variant in errors else ""
            print(
                f"SMPL-X playback, correctives {variant:15s}: {fps:5.1f} fps, {cpu:6.1f} CPU ms/frame{tail}"
            )
        wall = 1000 / medians["drivers"][0] - 1000 / medians["none"][0]
        cpu = medians["drivers"][1] - medians["none"][1]
        print(
            f"live correctives cost {wall:.1f} ms per frame wall clock, {cpu:.1f} CPU ms per frame on SMPL-X"
        )


if __name__ == "__main__":
    main()
