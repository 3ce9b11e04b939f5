"""ARKit curves and the range guard on the free stand-in FLAME rig (52 ARKit-named expressions).

    .venv/bin/python benchmarks/arkit_guard.py [--seconds 60] [--gaussians 20000]

- read: ``core.motion.arkit.read_arkit`` of a generated Live Link Face CSV (60 fps, 52 weights and
  9 head/eye rotations) and its resampling to 30 fps;
- import: ``gavatar.import_arkit`` of that CSV onto the stand-in (by name; neck and eyes);
- fit: ``gavatar.arkit_map_fit`` of a second stand-in rig whose expressions are a random mix of the
  first's (a PCA-like rig on the same topology), and the worst relative residual;
- guard: a splat object with dynamics bound to the rig, ``posed_gaussians`` per frame with the
  guard off and on (CLAMP, SOFT): the guard's cost is the difference.
Wall-clock figures; the machine may be shared, so compare runs made side by side.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="gavatar-bench-user-"))

import bpy  # noqa: E402

from core.avatar.range_stats import compute_stats  # noqa: E402
from core.motion import arkit, arkit_mapping  # noqa: E402
from core.rig import loaders  # noqa: E402
from core.rig.standins import standin_path  # noqa: E402
from tests.fixtures.blender_helpers import ADDON_MODULE, enable_addon_from_source  # noqa: E402
from tests.fixtures.engine import bound_arrays  # noqa: E402
from tests.fixtures.files.arkit_files import smooth_weights, write_live_link_csv  # noqa: E402


def _module(name: str) -> Any:
    return importlib.import_module(f"{ADDON_MODULE}.{name}")


def _best(fn: Any, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the generated capture")
    parser.add_argument("--gaussians", type=int, default=20000)
    args = parser.parse_args()
    model_path = standin_path("FLAME")
    if not model_path.is_file():
        sys.exit(f"the stand-in FLAME is not built ({model_path}); run python -m training.standins")
    tmp = Path(tempfile.mkdtemp(prefix="gavatar-arkit-"))
    frames = int(args.seconds * 60) + 1
    rng = np.random.default_rng(0)
    rot = np.cumsum(rng.normal(0, 0.005, (frames, 9)), axis=0)
    csv_path = write_live_link_csv(tmp / "take.csv", smooth_weights(frames), rate=60.0, rotations=rot)
    read = _best(lambda: arkit.read_arkit(csv_path))
    clip = arkit.read_arkit(csv_path)
    resample = _best(lambda: arkit_mapping.resample_clip(clip, 30.0))
    size = csv_path.stat().st_size / 1e6
    print(f"read {frames} rows ({size:.1f} MB): {read:.3f} s; resample to 30 fps: {resample:.3f} s")

    enable_addon_from_source()
    bpy.ops.wm.read_homefile(use_empty=True)
    model = loaders.load_model(model_path, family="FLAME")
    build = _module("blender.rig.build")
    parts = build.build_rig(model, bpy.context, name="ArkitHead")
    bpy.context.view_layer.objects.active = parts.armature
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    start = time.perf_counter()
    assert bpy.ops.gavatar.import_arkit(filepath=str(csv_path)) == {"FINISHED"}
    seconds, count = time.perf_counter() - start, scene.frame_end - scene.frame_start + 1
    print(f"gavatar.import_arkit onto the stand-in FLAME ({model.num_vertices} vertices, 52 expressions, "
          f"{count} frames): {seconds:.2f} s")  # fmt: skip

    mix = rng.normal(0, 0.3, (52, 52))
    pca = replace(model, expr_dirs=np.einsum("vde,ef->vdf", model.expr_dirs, mix), expression_names=())
    target = build.build_rig(pca, bpy.context, name="PcaHead")
    start = time.perf_counter()
    assert bpy.ops.gavatar.arkit_map_fit(target=target.armature.name, source=parts.armature.name) == {
        "FINISHED"
    }
    seconds, fit_error = time.perf_counter() - start, target.armature.gavatar_arkit.fit_error
    print(f"gavatar.arkit_map_fit (52 shapes into 52 mixed expressions): {seconds:.2f} s, "
          f"worst relative residual {fit_error:.2e}")  # fmt: skip

    splat_data = _module("engine.splats.data")
    runtime = _module("engine.splats.runtime")
    arrays = bound_arrays(num_faces=len(model.faces), count=args.gaussians, degree=0, rank=8,
                          num_expression=52, num_pose_features=36)  # fmt: skip
    obj = splat_data.create_splat_object("Avatar", arrays, driver=parts.mesh)
    stats = compute_stats(rng.uniform(0, 0.5, (100, 52)), rng.normal(0, 0.1, (100, 5, 3)))
    header = {"range_statistics": stats.to_header()}
    obj.data[splat_data.PROP_HEADER] = json.dumps(header)
    scene.frame_set(40)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    timings = {}
    for mode in ("OFF", "CLAMP", "SOFT"):
        obj.gavatar_guard.mode = mode
        source = runtime.SplatSource(obj)
        vertices = source.vertices(depsgraph)
        timings[mode] = _best(lambda s=source, v=vertices: s.pose_cpu(v, s.dynamics_features(depsgraph)), 5)
    print(
        f"posed_gaussians, {args.gaussians} Gaussians (numpy path): off {timings['OFF'] * 1e3:.1f} ms, "
        f"clamp {timings['CLAMP'] * 1e3:.1f} ms, soft {timings['SOFT'] * 1e3:.1f} ms"
    )
    features = runtime.SplatSource(obj).features.read(parts.mesh, depsgraph)
    guard_only = _best(
        lambda: _module("core.avatar.range_stats").guard(features, stats.features(52, 36), "SOFT"), 20
    )
    print(f"the guard alone on {features.size} features: {guard_only * 1e6:.0f} us")


if __name__ == "__main__":
    main()
