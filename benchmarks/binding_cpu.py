"""CPU cost per frame of the numpy deformation (core/avatar/binding.py) against the naive way.

Per frame: face frames of the deformed driver mesh, the dynamic deltas (rank K blendshapes of
expression + pose features), and binding -> world means/rotations/log-scales, at 100k and 1M
Gaussians on a FLAME-sized mesh (about 10k faces). The naive way is the straightforward
vectorised numpy one: per Gaussian, gather its three vertices and build its frame, convert the
frame to a quaternion, multiply (G,3,3) @ (G,3), and contract the (G,K,14) basis in place, all in
float64 on (G,n) arrays.

Also the 3DGS PLY write/read of the same number of Gaussians (SH degree 3), for reference.

Run:  .venv/bin/python -m benchmarks.binding_cpu [--sizes 100000 1000000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.avatar.binding import DYN_CHANNELS, Binding, Dynamics, bind, face_frames
from core.avatar.gaussians import GaussianSet
from core.avatar.ply import read_ply, write_ply
from core.avatar.quaternion import quat_multiply, quat_normalize
from core.rotations import matrix_to_quaternion


def sphere_mesh(rings: int, segments: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    theta = np.linspace(0, np.pi, rings + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    vertices = np.concatenate([[[0, 0, 1]], ring, [[0, 0, -1]]]) * (1 + 0.05 * rng.random((len(ring) + 2, 1)))
    faces = []
    for j in range(segments):
        faces.append((0, 1 + j, 1 + (j + 1) % segments))
    for i in range(rings - 2):
        a, b = 1 + i * segments, 1 + (i + 1) * segments
        for j in range(segments):
            k = (j + 1) % segments
            faces += [(a + j, b + j, a + k), (a + k, b + j, b + k)]
    south, last = len(vertices) - 1, 1 + (rings - 2) * segments
    for j in range(segments):
        faces.append((last + j, south, last + (j + 1) % segments))
    return vertices, np.array(faces, dtype=np.int32)


def naive_frame(vertices, faces, binding: Binding, basis: np.ndarray, mix: np.ndarray, features: np.ndarray):
    pf = binding.parent_face
    a, b, c = (vertices[faces[pf, i]] for i in range(3))  # (G,3) each: the frame built per Gaussian
    x = (b - a) / np.linalg.norm(b - a, axis=1, keepdims=True)
    n = np.cross(b - a, c - a)
    z = n / np.linalg.norm(n, axis=1, keepdims=True)
    rot = np.stack([x, np.cross(z, x), z], axis=-1)
    k = (np.linalg.norm(b - a, axis=1) + np.linalg.norm(c - b, axis=1) + np.linalg.norm(a - c, axis=1)) / 3
    deltas = np.einsum("gkc,k->gc", basis.astype(np.float64), mix.astype(np.float64) @ features)
    offset = binding.offset + deltas[:, 0:3]
    means = (a + b + c) / 3 + k[:, None] * np.einsum("gij,gj->gi", rot, offset)
    quats = quat_multiply(matrix_to_quaternion(rot), quat_normalize(binding.rotation + deltas[:, 3:7]))
    log_scales = binding.log_scale + np.log(k)[:, None] + deltas[:, 7:10]
    return means, quats, log_scales


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    fn()  # warm caches, lazy layouts
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples), min(samples)


def run_size(
    g: int, posed: np.ndarray, faces: np.ndarray, args: argparse.Namespace, rng: np.random.Generator
) -> None:
    num_features = args.expressions + args.pose_features
    binding = Binding(
        rng.integers(0, len(faces), g).astype(np.int32),
        rng.normal(0, 0.3, (g, 3)).astype(np.float32),
        rng.normal(size=(g, 4)).astype(np.float32),
        rng.normal(-1, 0.3, (g, 3)).astype(np.float32),
    )
    basis = rng.normal(0, 0.01, (g, args.rank, DYN_CHANNELS)).astype(np.float32)
    mix = rng.normal(size=(args.rank, num_features)).astype(np.float32)
    dynamics = Dynamics(basis, mix, args.expressions, args.pose_features)
    features = dynamics.features(rng.normal(size=args.expressions), rng.normal(size=args.pose_features))
    order = np.argsort(binding.parent_face, kind="stable")
    fields = (binding.offset, binding.rotation, binding.log_scale)
    sorted_binding = Binding(binding.parent_face[order], *(x[order] for x in fields))
    sorted_dynamics = Dynamics(basis[order], mix, args.expressions, args.pose_features)
    binding64 = Binding(binding.parent_face, *(x.astype(np.float64) for x in fields))

    def total(b: Binding, d: Dynamics) -> object:
        return bind(face_frames(posed, faces), b, d.deltas(features))

    naive = "naive (float64, per-Gaussian frames)"
    rows: dict[str, Callable[[], object]] = {
        f"face frames ({len(faces)} faces)": lambda: face_frames(posed, faces),
        "dynamic deltas": lambda: dynamics.deltas(features),
        "bind, static": lambda: bind(face_frames(posed, faces), binding),
        "frame total: frames + deltas + bind": lambda: total(binding, dynamics),
        "  same, Gaussians sorted by face": lambda: total(sorted_binding, sorted_dynamics),
        naive: lambda: naive_frame(posed, faces, binding64, basis, mix, features),
    }
    print(f"\n{g:,} Gaussians")
    results = {}
    for name, fn in rows.items():
        med, best = timed(fn, args.repeats)
        results[name] = med
        print(f"  {name:40s} {med:9.2f} ({best:.2f})")
    ratio = results[naive] / results["frame total: frames + deltas + bind"]
    print(f"  speed-up of the frame total over the naive way: {ratio:.1f}x")
    print(
        f"  memory per Gaussian (float32): binding 44 B, its cached (14,G) rows 56 B, "
        f"dynamics basis {basis.nbytes // g} B; per frame: deltas 56 B, output 40 B"
    )
    gaussians = GaussianSet(
        *(rng.normal(size=shape).astype(np.float32) for shape in ((g, 3), (g, 4), (g, 3), (g,), (g, 16, 3)))
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "g.ply"
        write_med, write_best = timed(lambda: write_ply(path, gaussians), 3)
        read_med, read_best = timed(lambda: read_ply(path), 3)
        size = path.stat().st_size / 1e6
    print(
        f"  PLY (SH 3, {size:.0f} MB): write {write_med:.0f} ({write_best:.0f}), "
        f"read {read_med:.0f} ({read_best:.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--expressions", type=int, default=50)
    parser.add_argument("--pose-features", type=int, default=36)  # FLAME: 4 joints x 9
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rest, faces = sphere_mesh(71, 72, rng)
    print(
        f"mesh: {len(rest)} vertices, {len(faces)} faces; dynamics rank {args.rank}, "
        f"E+P = {args.expressions}+{args.pose_features}; median (min) of {args.repeats} runs, ms per frame"
    )
    posed = rest + rng.normal(0, 0.01, rest.shape)
    for g in args.sizes:
        run_size(g, posed, faces, args, rng)


if __name__ == "__main__":
    main()
