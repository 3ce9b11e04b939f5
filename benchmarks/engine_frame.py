"""Per-frame cost of the GAVATAR engine on an animated avatar, GPU path vs the CPU baseline.

    .venv/bin/python -m benchmarks.engine_frame [--counts 100000 1000000] [--frames 12] [--rank 8]

For each Gaussian count: a rig (rig-blender's build_rig of a generated FLAME-format model with a
~10k-vertex mesh, expression keys and pose correctives, keyed over the frames) carries a splat
object (SH degree 3, dynamics of the given rank). Each frame is timed stage by stage:

- mesh evaluation: scene.frame_set (Blender evaluates armature, shape keys, drivers);
- read: the evaluated driver vertices and the dynamics features (bones, shape keys);
- deform: GPU path = upload the vertices + face-frame and bind compute shaders;
          baseline = core/avatar/binding.py on every Gaussian (numpy);
- upload: baseline only: every Gaussian's world values to the GPU (the GPU path uploads nothing
          more than the vertices);
- sort: GPU radix sort / np.argsort of every Gaussian's depth + upload of the order;
- draw: projection compute + instanced quads + resolve at the given resolution.

Each stage is timed twice: "issue" (CPU time until the Python call returns) and "done" (after
waiting for the GPU). On a machine without a GPU (llvmpipe) the GPU's work runs on the same CPU
cores and even "issue" includes most of it; so both paths are also run with every compute
dispatch and the splat draw call stubbed out, which leaves what a real GPU leaves on the CPU (the
CPU's share of a frame). Memory per Gaussian: the .blend size and the engine's textures.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _enable_addon() -> str:
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="gavatar-bench-"))
    sys.path.insert(0, str(ROOT))
    import bpy  # noqa: F401 (reads BLENDER_USER_RESOURCES; makes addon_utils importable)

    from tests.fixtures.blender_helpers import ADDON_MODULE, enable_addon_from_source

    enable_addon_from_source()
    return ADDON_MODULE


def _module(top: str, name: str) -> Any:
    return importlib.import_module(f"{top}.{name}")


def sphere_model(rings: int, segments: int, seed: int = 0) -> Any:
    """A FLAME-format rig model whose mesh is a UV sphere (rings x segments vertices)."""
    from core.rig.model import FLAME_JOINT_NAMES, RigModel

    rng = np.random.default_rng(seed)
    theta = np.linspace(0.1 * np.pi, 0.9 * np.pi, rings)
    phi = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    r = 0.1
    vertices = np.stack([r * np.sin(t) * np.cos(p), r * np.cos(t) + 0.12, r * np.sin(t) * np.sin(p)], -1)
    vertices = vertices.reshape(-1, 3)
    a = (np.arange(rings - 1)[:, None] * segments + np.arange(segments)[None]).ravel()
    b = (np.arange(rings - 1)[:, None] * segments + (np.arange(segments)[None] + 1) % segments).ravel()
    faces = np.concatenate([np.stack([a, a + segments, b], 1), np.stack([b, a + segments, b + segments], 1)])
    joints = np.array([[0, 0, 0], [0, 0.04, 0], [0, 0.09, 0.02], [0.03, 0.15, 0.08], [-0.03, 0.15, 0.08]])
    d2 = ((vertices[:, None] - joints[None]) ** 2).sum(-1)
    weights = np.exp(-d2 / (2 * 0.05**2)) + 1e-9
    weights /= weights.sum(1, keepdims=True)
    regressor = np.zeros((5, len(vertices)))
    for j in range(5):
        regressor[j, np.argsort(d2[:, j])[:6]] = 1.0 / 6.0

    def fields(count: int, amplitude: float) -> np.ndarray:
        centres = vertices[rng.integers(0, len(vertices), size=count)]
        bumps = np.exp(-((vertices[None] - centres[:, None]) ** 2).sum(-1) / (2 * 0.05**2))  # (c,V)
        return amplitude * np.einsum("cv,cd->vdc", bumps, rng.normal(size=(count, 3)))

    return RigModel(
        family="FLAME", v_template=vertices, faces=faces.astype(np.int32), shape_dirs=fields(2, 0.01),
        expr_dirs=fields(10, 0.01), pose_dirs=fields(36, 0.004), joint_regressor=regressor,
        weights=weights, parents=np.array([-1, 0, 1, 1, 1]), joint_names=FLAME_JOINT_NAMES,
        source_name="benchmark-sphere", source_sha256="2" * 64,
    )  # fmt: skip


def build_scene(top: str, count: int, rank: int, frames: int, rings: int, segments: int) -> tuple[Any, Any]:
    import bpy
    from mathutils import Vector

    build = _module(top, "blender.rig.build")
    pose_io = _module(top, "blender.rig.pose_io")
    splat_data = _module(top, "engine.splats.data")
    bpy.ops.wm.read_homefile(use_empty=True)
    model = sphere_model(rings, segments)
    parts = build.build_rig(model, bpy.context)
    rng = np.random.default_rng(1)
    sequence = {
        "pose": rng.normal(0.0, 0.25, (frames, 5, 3)),
        "expression": rng.normal(0.0, 1.0, (frames, model.num_expression)),
    }
    pose_io.write_pose(parts, sequence, keyframe=True, frame_start=1)
    g = count
    sh = rng.normal(0.0, 0.3, (g, 16, 3)).astype(np.float32)
    arrays = splat_data.SplatArrays(
        means=np.zeros((g, 3), np.float32),
        quats=rng.normal(size=(g, 4)).astype(np.float32),
        log_scales=np.log(rng.uniform(0.1, 0.5, (g, 3))).astype(np.float32),
        opacity_logits=rng.normal(0.0, 2.0, g).astype(np.float32),
        sh=sh,
        parent_face=rng.integers(0, len(model.faces), g).astype(np.int32),
        offsets=rng.normal(0.0, 0.3, (g, 3)).astype(np.float32),
        dyn_basis=rng.normal(0.0, 0.02, (g, rank, 14)).astype(np.float32) if rank else None,
        dyn_mix=rng.normal(0.0, 1.0, (rank, model.num_expression + 36)).astype(np.float32) if rank else None,
        dyn_num_expression=model.num_expression if rank else 0,
        dyn_num_pose_features=36 if rank else 0,
    )
    obj = splat_data.create_splat_object("Avatar", arrays, driver=parts.mesh)
    del arrays
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, frames
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    camera.location = (0.0, -0.5, 0.12)
    camera.rotation_mode = "QUATERNION"
    camera.rotation_quaternion = (Vector((0.0, 0.0, 0.12)) - camera.location).to_track_quat("-Z", "Y")
    return parts, obj


class Timer:
    def __init__(self, finish: Any) -> None:
        self.finish = finish
        self.issue: dict[str, list[float]] = {}
        self.done: dict[str, list[float]] = {}

    def run(self, name: str, fn: Any, *args: Any) -> Any:
        t0 = time.perf_counter()
        out = fn(*args)
        t1 = time.perf_counter()
        self.finish()
        t2 = time.perf_counter()
        self.issue.setdefault(name, []).append(t1 - t0)
        self.done.setdefault(name, []).append(t2 - t0)
        return out

    def medians(self) -> tuple[dict[str, float], dict[str, float]]:
        return (
            {k: 1e3 * float(np.median(v)) for k, v in self.issue.items()},
            {k: 1e3 * float(np.median(v)) for k, v in self.done.items()},
        )


def measure(
    top: str, obj: Any, frames: int, width: int, height: int, baseline: bool, *, clear: bool = True
) -> Timer:
    import bpy

    gpu_api = _module(top, "engine.gpu.api")
    frame_mod = _module(top, "engine.frame")
    splat_pass = _module(top, "engine.passes.splats")
    runtime = _module(top, "engine.splats.runtime")
    scene_camera = _module(top, "engine.scene_camera")
    gpu_arrays = _module(top, "engine.gpu.arrays")
    sorting = _module(top, "engine.sorting")
    scene = bpy.context.scene
    state = runtime.SplatObjectState(obj)
    targets = frame_mod.FrameTargets(width, height)
    timer = Timer(gpu_api.finish)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    binding_gpu = _module(top, "engine.gpu.binding")
    source = state.source

    def read_frame() -> tuple[np.ndarray, np.ndarray | None]:
        return source.vertices(depsgraph), source.dynamics_features(depsgraph)

    def upload(world: Any) -> None:
        unit = world.quats / np.linalg.norm(world.quats, axis=1, keepdims=True)
        opacity = 1.0 / (1.0 + np.exp(-world.opacity_logits))
        state.data.set_world(world.means, unit, np.exp(world.log_scales), opacity, world.sh[:, 0])

    def sort_cpu(world: Any, local: Any) -> None:
        m = local.world_to_camera
        depth = world.means.astype(np.float64) @ m[2, :3] + m[2, 3]
        state.data.sorted_values = gpu_arrays.upload_scalars(sorting.sort_order_cpu(depth))

    def draw(local: Any) -> None:
        with targets.composite.bind():
            if clear:
                targets.composite.clear(color=(0.0, 0.0, 0.0, 0.0), depth=1.0)
            splat_pass.draw(state.data, local)

    for i in range(frames + 2):  # two warm-up frames (shader compiles, caches)
        timer.run("mesh evaluation", scene.frame_set, 1 + i % frames)
        vertices, features = timer.run("read driver + features", read_frame)
        camera = scene_camera.scene_camera(depsgraph, scene)
        local = camera.with_world(np.array(obj.evaluated_get(depsgraph).matrix_world))
        if baseline:
            world = timer.run("deform", source.pose_cpu, vertices, features)
            timer.run("upload", upload, world)
            timer.run("project", splat_pass.run_project, state.data, local)
            timer.run("sort", sort_cpu, world, local)
        else:
            weights = source.dynamics_weights(features)
            timer.run("deform", binding_gpu.deform, state.data, vertices, weights)
            timer.run("project", splat_pass.run_project, state.data, local)
            timer.run("sort", splat_pass.sort_gpu, state.data)
        timer.run("draw", draw, local)
        if i == 1:  # drop the warm-up frames
            timer.issue.clear()
            timer.done.clear()
    return timer


class _NoDraw:
    def draw_instanced(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextlib.contextmanager
def gpu_work_stubbed(top: str) -> Iterator[None]:
    """Replaces every compute dispatch and the splat draw call by no-ops: what is left is the CPU
    side of the GPU path (Python, bpy calls, the vertex upload), as a real GPU would leave it."""
    modules = [
        _module(top, name) for name in ("engine.gpu.binding", "engine.sorting", "engine.passes.splats")
    ]
    splat_pass = modules[2]
    saved = [m.dispatch for m in modules], splat_pass._quad_batch
    for m in modules:
        m.dispatch = lambda *args, **kwargs: None
    splat_pass._quad_batch = _NoDraw
    try:
        yield
    finally:
        for m, fn in zip(modules, saved[0], strict=True):
            m.dispatch = fn
        splat_pass._quad_batch = saved[1]


def blend_bytes_per_gaussian(count: int) -> float:
    import bpy

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "avatar.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(path), compress=False, copy=True)
        return path.stat().st_size / count


def report(label: str, timer: Timer) -> tuple[float, float]:
    issue, done = timer.medians()
    print(f"  {label}: median ms per frame (issue / done)")
    for name in issue:
        print(f"    {name:24s} {issue[name]:9.2f} / {done[name]:9.2f}")
    ours = [k for k in issue if k != "mesh evaluation"]
    cpu = sum(issue[k] for k in ours)
    total = sum(done[k] for k in ours)
    print(f"    {'our CPU share (issue)':24s} {cpu:9.2f}")
    print(f"    {'frame total (done)':24s} {total:9.2f}   (both without the mesh evaluation)")
    return cpu, total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--width", type=int, default=960)
    parser.add_argument("--height", type=int, default=540)
    parser.add_argument("--mesh", type=int, nargs=2, default=(80, 128), metavar=("RINGS", "SEGMENTS"))
    args = parser.parse_args()
    top = _enable_addon()
    import gpu

    _module(top, "engine.gpu.context").ensure_gpu_context()
    print(f"GPU: {gpu.platform.renderer_get()} ({gpu.platform.backend_type_get()})")
    for count in args.counts:
        parts, obj = build_scene(top, count, args.rank, args.frames, *args.mesh)
        mesh = parts.mesh.data
        print(
            f"\n{count:,} Gaussians (SH degree 3, dynamics rank {args.rank}); driver mesh "
            f"{len(mesh.vertices):,} vertices, {len(mesh.polygons):,} faces; {args.width}x{args.height}"
        )
        size = (args.frames, args.width, args.height)
        gpu_timer = measure(top, obj, *size, baseline=False)
        _, gpu_total = report("GPU path, on this machine's GPU", gpu_timer)
        gc.collect()
        base_timer = measure(top, obj, *size, baseline=True)
        _, base_total = report(
            "baseline (numpy deform + np.argsort + upload everything), same GPU", base_timer
        )
        gc.collect()
        with gpu_work_stubbed(top):
            gpu_cpu, _ = report(
                "GPU path, CPU side only", measure(top, obj, *size, baseline=False, clear=False)
            )
            gc.collect()
            base_cpu, _ = report(
                "baseline, CPU side only", measure(top, obj, *size, baseline=True, clear=False)
            )
        print(
            f"  CPU share of a frame (GPU work stubbed out, mesh evaluation excluded): GPU path "
            f"{gpu_cpu:.2f} ms, baseline {base_cpu:.2f} ms, ratio {base_cpu / gpu_cpu:.0f}x"
        )
        print(
            f"  whole frame on this machine (GPU work included, mesh evaluation excluded): GPU path "
            f"{gpu_total:.0f} ms, baseline {base_total:.0f} ms, ratio {base_total / gpu_total:.2f}x"
        )
        state = _module(top, "engine.splats.runtime").SplatObjectState(obj)
        print(
            f"  memory per Gaussian: GPU textures {state.data.gpu_bytes() / count:.0f} B, "
            f".blend (uncompressed) {blend_bytes_per_gaussian(count):.0f} B"
        )
        del state
        gc.collect()


if __name__ == "__main__":
    main()
