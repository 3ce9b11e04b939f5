"""Interop benchmark at real sizes: GaussianAvatars import, PLY sequence export, glTF round trip.

    .venv/bin/python benchmarks/interop.py [--gaussians 80000] [--frames 300] [--ply-frames 10]
                                           [--gltf-frames 30] [--flame PATH]

Model: the given FLAME file, else a generated one in FLAME 2023's format and about its size (a
manifold sphere grid of 5074 vertices and 9976 faces, 300 shape + 100 expression components and
all pose correctives with random contents). The result folder is
generated in GaussianAvatars' layout: ``--gaussians`` Gaussians local to their triangles (2% of them
on the 168 teeth faces, as in a real result), SH degree 3, and ``--frames`` frames of motion.
Figures: seconds for reading + checking the folder, converting into our binding (numpy), and the
whole ``gavatar.import_gaussianavatars`` (rig build with every shape key, identity, keyframes); then
seconds per frame of ``gavatar.export_ply_sequence`` and the seconds of a glTF + sidecar export and
re-import of the same avatar.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="gavatar-bench-user-"))

import bpy  # noqa: E402

from core.avatar.gaussians import GaussianSet  # noqa: E402
from core.avatar.ply import write_ply  # noqa: E402
from core.interop import gaussian_avatars  # noqa: E402
from core.rig import loaders  # noqa: E402
from tests.fixtures.blender_helpers import enable_addon_from_source  # noqa: E402


def write_result(folder: Path, num_vertices: int, num_faces: int, gaussians: int, frames: int) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    teeth = int(0.02 * gaussians)
    faces = np.concatenate(
        [rng.integers(0, num_faces, gaussians - teeth), rng.integers(num_faces, num_faces + 168, teeth)]
    )
    rng.shuffle(faces)
    local = GaussianSet(
        means=rng.normal(0, 0.3, (gaussians, 3)).astype(np.float32),
        quats=rng.normal(size=(gaussians, 4)).astype(np.float32),
        log_scales=rng.normal(-1.5, 0.3, (gaussians, 3)).astype(np.float32),
        opacity_logits=rng.normal(size=gaussians).astype(np.float32),
        sh=rng.normal(0, 0.3, (gaussians, 16, 3)).astype(np.float32),
    )
    write_ply(folder / "point_cloud.ply", local, extras={"binding_0": faces.astype(np.float32)})
    rows = num_vertices + 120
    np.savez(
        folder / "flame_param.npz",
        shape=rng.normal(0, 0.5, 300).astype(np.float32),
        expr=rng.normal(0, 0.5, (frames, 100)).astype(np.float32),
        rotation=rng.normal(0, 0.1, (frames, 3)).astype(np.float32),
        neck_pose=rng.normal(0, 0.1, (frames, 3)).astype(np.float32),
        jaw_pose=np.abs(rng.normal(0, 0.1, (frames, 3))).astype(np.float32),
        eyes_pose=rng.normal(0, 0.05, (frames, 6)).astype(np.float32),
        translation=rng.normal(0, 0.01, (frames, 3)).astype(np.float32),
        static_offset=rng.normal(0, 0.001, (1, rows, 3)).astype(np.float32),
        dynamic_offset=np.zeros((frames, rows, 3), dtype=np.float32),
    )


def _sphere_flame(folder: Path) -> Path:
    """A FLAME 2023-format file of FLAME's size whose mesh is a closed-up sphere grid of 59 x 86
    (5074 vertices, 9976 triangles, manifold like FLAME's), random bases of the real sizes."""
    from tests.fixtures.files import rig_files

    rings, segments = 59, 86
    arrays = rig_files.model_arrays("FLAME", num_vertices=rings * segments, num_faces=9976, scale=0.2)
    theta = np.linspace(0.1 * np.pi, 0.9 * np.pi, rings)
    phi = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    arrays["v_template"] = np.stack(
        [0.1 * np.sin(t) * np.cos(p), 0.1 * np.cos(t), 0.1 * np.sin(t) * np.sin(p)], -1
    ).reshape(-1, 3)
    faces = []
    for i in range(rings - 1):
        for j in range(segments):
            a, b = i * segments + j, i * segments + (j + 1) % segments
            faces += [[a, a + segments, b], [b, a + segments, b + segments]]
    arrays["f"] = np.array(faces, dtype=np.uint32)
    return rig_files.write_pickle(folder / "flame2023.pkl", arrays, sparse_keys=("J_regressor",))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gaussians", type=int, default=80000)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--ply-frames", type=int, default=10)
    parser.add_argument("--gltf-frames", type=int, default=30)
    parser.add_argument("--flame", default="")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gavatar-interop-bench-"))
    if args.flame:
        model_path = Path(args.flame)
    else:
        model_path = _sphere_flame(work)
    model = loaders.load_model(model_path, family="FLAME")
    folder = work / "result"
    write_result(folder, model.num_vertices, len(model.faces), args.gaussians, args.frames)
    print(
        f"model: {model.num_vertices} vertices, {len(model.faces)} faces, {model.num_shape} shape + "
        f"{model.num_expression} expression; result: {args.gaussians} Gaussians, {args.frames} frames"
    )

    t0 = time.perf_counter()
    result = gaussian_avatars.read_result(folder)
    t1 = time.perf_counter()
    conversion = gaussian_avatars.convert(result, model)
    t2 = time.perf_counter()
    print(
        f"read + check folder: {t1 - t0:.2f} s; convert to our binding: {t2 - t1:.2f} s "
        f"({len(conversion.avatar)} kept, {conversion.teeth_dropped} teeth left out)"
    )

    enable_addon_from_source()
    bpy.ops.wm.read_homefile(use_empty=True)
    t0 = time.perf_counter()
    assert bpy.ops.gavatar.import_gaussianavatars(directory=str(folder), model_path=str(model_path)) == {
        "FINISHED"
    }
    print(f"gavatar.import_gaussianavatars (whole operator): {time.perf_counter() - t0:.2f} s")
    splat = bpy.data.objects["result"]
    for obj in bpy.context.selected_objects:
        obj.select_set(False)
    splat.select_set(True)
    bpy.context.view_layer.objects.active = splat

    t0 = time.perf_counter()
    n = args.ply_frames
    bpy.ops.gavatar.export_ply_sequence(directory=str(work / "ply"), frame_start=1, frame_end=n)
    seconds = time.perf_counter() - t0
    print(f"gavatar.export_ply_sequence: {seconds / n:.3f} s per frame over {n} frames")

    bpy.context.scene.frame_end = args.gltf_frames
    t0 = time.perf_counter()
    bpy.ops.gavatar.export_gltf_avatar(
        filepath=str(work / "avatar.glb"), frame_start=1, frame_end=args.gltf_frames
    )
    t1 = time.perf_counter()
    size = (work / "avatar.glb").stat().st_size / 1e6
    bpy.ops.wm.read_homefile(use_empty=True)
    t2 = time.perf_counter()
    bpy.ops.gavatar.import_gltf_avatar(filepath=str(work / "avatar.glb"))
    t3 = time.perf_counter()
    print(
        f"glTF + sidecar: export {t1 - t0:.2f} s ({args.gltf_frames} frames, glb {size:.1f} MB, "
        f"sidecar {(work / 'avatar.gavatar').stat().st_size / 1e6:.1f} MB), import {t3 - t2:.2f} s"
    )


if __name__ == "__main__":
    main()
