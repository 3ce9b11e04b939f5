"""Gaussians bound to the triangles of a driver mesh, and their linear dynamic blendshapes.

The maths of docs/DESIGN.md ("Gaussian binding"), vectorised numpy. Each frame Blender (CPU path)
evaluates: ``face_frames`` of the deformed mesh (per face, small), ``Dynamics.deltas`` for the
current expression/pose (one matrix-vector product), then ``bind`` (per Gaussian: one gather of a
packed per-face table and a few fused array operations). The torch twin is
``training/twins/binding.py``; tests hold the two within 1e-5.

Arrays keep their dtype: float32 bindings deform in float32 (half the memory traffic of float64);
the face frames are always built in float64 from the vertices and then cast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .gaussians import GaussianSet
from .quaternion import quat_conjugate, quat_multiply, quat_normalize

if TYPE_CHECKING:  # shading.py imports this module
    from .shading import Shading

FRAME_EPS = 1e-12  # norms below this count as zero (degenerate faces give a zero axis, never NaN)

# Channels of a dynamic blendshape delta (docs/DESIGN.md).
DYN_OFFSET = slice(0, 3)  # face units, added to the local offset
DYN_ROTATION = slice(3, 7)  # added to the local quaternion before normalising
DYN_LOG_SCALE = slice(7, 10)
DYN_OPACITY = 10  # added to the opacity logit
DYN_COLOR = slice(11, 14)  # added to the SH DC coefficient
DYN_CHANNELS = 14


class BindingError(ValueError):
    """Binding arrays that do not fit together or do not fit the mesh."""


# Rows of the per-face table (``FaceFrames.table``, (17,F)).
ROW_ORIGIN = slice(0, 3)
ROW_KR = slice(3, 12)  # k * R, row-major: row 3 + 3i + j holds k * R[i, j]
ROW_QUAT = slice(12, 16)  # quat(R), unit, w >= 0
ROW_LOG_K = 16
TABLE_ROWS = 17


@dataclass(frozen=True, eq=False)
class FaceFrames:
    """Per-face frames of a mesh: origin (centroid), rotation R = [x y z] (columns), size k.

    Held as one float64 table (17,F) of rows [origin 3 | k*R row-major 9 | quat(R) 4 | log k]:
    everything ``bind`` gathers per Gaussian, and what a GPU path uploads per frame.
    """

    table: np.ndarray  # (17,F) float64

    def __len__(self) -> int:
        return int(self.table.shape[1])

    @property
    def origins(self) -> np.ndarray:  # (F,3)
        return self.table[ROW_ORIGIN].T

    @property
    def sizes(self) -> np.ndarray:  # (F,)
        return np.exp(self.table[ROW_LOG_K])

    @property
    def rotations(self) -> np.ndarray:  # (F,3,3)
        return self.table[ROW_KR].T.reshape(-1, 3, 3) / self.sizes[:, None, None]

    @property
    def quaternions(self) -> np.ndarray:  # (F,4), unit, w >= 0
        return self.table[ROW_QUAT].T


def _norm_rows(v: np.ndarray) -> np.ndarray:
    return np.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def _rotation_rows_to_quaternion(m: list[list[np.ndarray]], out: np.ndarray) -> None:
    """Rotation matrices given as rows m[i][j] (each (F,)) -> (4,F) unit quaternions, w >= 0.
    Same choice as ``core.rotations.matrix_to_quaternion``: divide by the largest of
    4w^2, 4x^2, 4y^2, 4z^2 (robust for every rotation)."""
    m00, m11, m22 = m[0][0], m[1][1], m[2][2]
    diag = (1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22)
    s21, s02, s10 = m[2][1] - m[1][2], m[0][2] - m[2][0], m[1][0] - m[0][1]
    a01, a02, a12 = m[0][1] + m[1][0], m[0][2] + m[2][0], m[1][2] + m[2][1]
    candidates = (
        (diag[0], s21, s02, s10),
        (s21, diag[1], a01, a02),
        (s02, a01, diag[2], a12),
        (s10, a02, a12, diag[3]),
    )
    # First largest diagonal term wins (np.argmax's tie rule), as in core.rotations.
    best = np.maximum(np.maximum(diag[0], diag[1]), np.maximum(diag[2], diag[3]))
    chosen = [diag[c] == best for c in range(4)]
    out[...] = np.stack(candidates[3])
    for c in (2, 1, 0):  # later assignments win: the lowest index among ties is kept
        np.copyto(out, np.stack(candidates[c]), where=chosen[c])
    scale = np.sqrt(out[0] * out[0] + out[1] * out[1] + out[2] * out[2] + out[3] * out[3])
    out /= np.where(out[0] < 0, -scale, scale)


def face_frames(vertices: np.ndarray, faces: np.ndarray) -> FaceFrames:
    """Frames of every triangle of a mesh (vertices (V,3) posed, faces (F,3) vertex indices).

    origin = (a+b+c)/3, x = normalize(b-a), z = normalize((b-a) x (c-a)), y = z x x,
    k = (|b-a| + |c-b| + |a-c|) / 3. Computed on contiguous (F,) rows in float64.
    """
    vt = np.ascontiguousarray(np.asarray(vertices, dtype=np.float64).T)
    idx = np.ascontiguousarray(np.asarray(faces).T)
    a, b, c = (np.take(vt, idx[i], axis=1) for i in range(3))
    ab, ac = b - a, c - a
    len_ab = _norm_rows(ab)
    x = ab / np.maximum(len_ab, FRAME_EPS)
    n = np.stack(
        [ab[1] * ac[2] - ab[2] * ac[1], ab[2] * ac[0] - ab[0] * ac[2], ab[0] * ac[1] - ab[1] * ac[0]]
    )
    z = n / np.maximum(_norm_rows(n), FRAME_EPS)
    y = np.stack([z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]])
    k = (len_ab + _norm_rows(c - b) + _norm_rows(ac)) / 3.0
    table = np.empty((TABLE_ROWS, idx.shape[1]), dtype=np.float64)
    np.add(a, b, out=table[ROW_ORIGIN])
    table[ROW_ORIGIN] += c
    table[ROW_ORIGIN] /= 3.0
    axes = (x, y, z)  # R[i, j] = axes[j][i]
    m = [[axes[j][i] for j in range(3)] for i in range(3)]
    for i in range(3):
        for j in range(3):
            np.multiply(k, m[i][j], out=table[3 + 3 * i + j])
    _rotation_rows_to_quaternion(m, table[ROW_QUAT])
    np.log(np.maximum(k, FRAME_EPS), out=table[ROW_LOG_K])
    return FaceFrames(table)


@dataclass(eq=False)
class Binding:
    """Each Gaussian's parent face and its pose relative to that face's frame."""

    parent_face: np.ndarray  # (G,) int32
    offset: np.ndarray  # (G,3) in face units (multiples of the face size k)
    rotation: np.ndarray  # (G,4) local quaternion w,x,y,z, unnormalised
    log_scale: np.ndarray  # (G,3) log of the scale in face units
    _rows: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        g = self.parent_face.shape[0] if self.parent_face.ndim == 1 else -1
        for name, shape in (("offset", (g, 3)), ("rotation", (g, 4)), ("log_scale", (g, 3))):
            if getattr(self, name).shape != shape or g < 0:
                raise BindingError(f"binding {name} has shape {getattr(self, name).shape}, expected {shape}")
        if not np.issubdtype(self.parent_face.dtype, np.integer):
            raise BindingError(f"binding parent_face must hold integers, not {self.parent_face.dtype}")

    def __len__(self) -> int:
        return int(self.parent_face.shape[0])

    @property
    def dtype(self) -> np.dtype:
        return np.result_type(self.offset, self.rotation, self.log_scale)

    def rows(self) -> np.ndarray:
        """(14,G) structure-of-arrays copy [offset 3 | rotation 4 | unit rotation 4 | log_scale 3],
        built once: per-frame maths on contiguous rows runs several times faster than on (G,3)."""
        if self._rows is None:
            rows = np.empty((14, len(self)), dtype=self.dtype)
            rows[0:3] = self.offset.T
            rows[3:7] = self.rotation.T
            rows[7:11] = quat_normalize(self.rotation).T
            rows[11:14] = self.log_scale.T
            self._rows = rows
        return self._rows

    def check(self, num_faces: int | None = None) -> None:
        """Raise ``BindingError`` for faces out of range or NaN/inf values."""
        if len(self) and num_faces is not None:
            low, high = int(self.parent_face.min()), int(self.parent_face.max())
            if low < 0 or high >= num_faces:
                bad = low if low < 0 else high
                raise BindingError(f"the binding points to face {bad} but the mesh has {num_faces} faces")
        for name in ("offset", "rotation", "log_scale"):
            if not np.isfinite(getattr(self, name)).all():
                raise BindingError(f"the binding's {name} holds NaN or infinite values")


@dataclass(eq=False)
class Dynamics:
    """Low-rank linear blendshapes of Gaussian attributes (docs/DESIGN.md "Dynamic blendshapes").

    features f = [first E expression coefficients, P pose-corrective features]; z = mix @ f;
    delta[g] = basis[g].T @ z over the 14 channels DYN_*.
    """

    basis: np.ndarray  # (G,K,14), the avatar file's layout
    mix: np.ndarray  # (K,E+P)
    num_expression: int
    num_pose_features: int
    _channel_major: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.basis.ndim != 3 or self.basis.shape[2] != DYN_CHANNELS:
            raise BindingError(
                f"dynamics basis has shape {self.basis.shape}, expected (G, K, {DYN_CHANNELS})"
            )
        expected = (self.rank, self.num_expression + self.num_pose_features)
        if self.mix.shape != expected:
            raise BindingError(f"dynamics mix has shape {self.mix.shape}, expected {expected}")

    @property
    def rank(self) -> int:
        return int(self.basis.shape[1])

    def __len__(self) -> int:
        return int(self.basis.shape[0])

    def features(self, expression: np.ndarray | None, pose_features: np.ndarray | None) -> np.ndarray:
        """The feature vector: expression truncated/zero-padded to E, pose features to P."""
        f = np.zeros(self.num_expression + self.num_pose_features, dtype=np.float64)
        if expression is not None and self.num_expression:
            e = np.asarray(expression, dtype=np.float64).reshape(-1)[: self.num_expression]
            f[: e.shape[0]] = e
        if pose_features is not None and self.num_pose_features:
            p = np.asarray(pose_features, dtype=np.float64).reshape(-1)[: self.num_pose_features]
            f[self.num_expression : self.num_expression + p.shape[0]] = p
        return f

    def deltas(self, features: np.ndarray) -> np.ndarray:
        """(G,14) per-Gaussian deltas for a feature vector, in the basis dtype. The result is the
        transposed view of a contiguous (14,G) block, the layout ``bind`` works in."""
        if self._channel_major is None:
            # (14,G,K) contiguous makes the per-frame work one BLAS matrix-vector product (about
            # 1.5x faster than contracting (G,K,14) in place) whose output is already in rows.
            # ``basis`` becomes a view of it, so the memory is not doubled.
            self._channel_major = np.ascontiguousarray(self.basis.transpose(2, 0, 1))
            self.basis = self._channel_major.transpose(1, 2, 0)
        z = (self.mix.astype(np.float64) @ np.asarray(features, dtype=np.float64)).astype(self.basis.dtype)
        c, g, k = self._channel_major.shape
        return (self._channel_major.reshape(c * g, k) @ z).reshape(c, g).T


@dataclass(frozen=True, eq=False)
class BoundGaussians:
    """Geometry of bound Gaussians in mesh space for one frame. The arrays are (G,n) views of one
    (10,G) block (``rows``: means 3, quats 4, log_scales 3); np.ascontiguousarray them if needed."""

    rows: np.ndarray

    @property
    def means(self) -> np.ndarray:  # (G,3)
        return self.rows[0:3].T

    @property
    def quats(self) -> np.ndarray:  # (G,4) unit, w,x,y,z
        return self.rows[3:7].T

    @property
    def log_scales(self) -> np.ndarray:  # (G,3)
        return self.rows[7:10].T


def bind(
    frames: FaceFrames, binding: Binding, deltas: np.ndarray | None = None, *, chunk: int = 32768
) -> BoundGaussians:
    """World (mesh-space) means, rotations and log-scales of bound Gaussians.

    mu = o + k R (offset + d_offset); q = quat(R) * normalize(q_local + d_rot);
    log s = log k + log_scale + d_log_scale. ``deltas`` (G,14) from ``Dynamics.deltas`` or None.
    Works chunk by chunk on contiguous rows, so temporaries stay in the CPU caches.
    """
    dtype = binding.dtype
    table = frames.table.astype(dtype, copy=False)  # (17,F)
    src = binding.rows()
    pf = binding.parent_face
    g = len(binding)
    out = np.empty((10, g), dtype=dtype)
    rows = None if deltas is None else np.ascontiguousarray(deltas.T, dtype=dtype)  # free for Dynamics.deltas
    for s in range(0, g, chunk):
        e = min(s + chunk, g)
        t = np.take(table, pf[s:e], axis=1)  # (17,c): one gather of everything per face
        d = None if rows is None else rows[:, s:e]
        off = src[0:3, s:e] if d is None else src[0:3, s:e] + d[DYN_OFFSET]
        means = out[0:3, s:e]
        means[...] = t[ROW_ORIGIN]
        means += np.einsum("ijc,jc->ic", t[ROW_KR].reshape(3, 3, e - s), off)
        if d is None:
            local = src[7:11, s:e]
        else:
            local = src[3:7, s:e] + d[DYN_ROTATION]
            local /= np.maximum(np.sqrt(local[0] ** 2 + local[1] ** 2 + local[2] ** 2 + local[3] ** 2), 1e-12)
        _quat_multiply_rows(t[ROW_QUAT], local, out[3:7, s:e])
        logs = out[7:10, s:e]
        np.add(src[11:14, s:e], t[ROW_LOG_K], out=logs)
        if d is not None:
            logs += d[DYN_LOG_SCALE]
    return BoundGaussians(out)


def _quat_multiply_rows(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Hamilton product of (4,c) row blocks into ``out`` (4,c)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    np.multiply(aw, bw, out=out[0])
    out[0] -= ax * bx
    out[0] -= ay * by
    out[0] -= az * bz
    np.multiply(aw, bx, out=out[1])
    out[1] += ax * bw
    out[1] += ay * bz
    out[1] -= az * by
    np.multiply(aw, by, out=out[2])
    out[2] -= ax * bz
    out[2] += ay * bw
    out[2] += az * bx
    np.multiply(aw, bz, out=out[3])
    out[3] += ax * by
    out[3] -= ay * bx
    out[3] += az * bw


def unbind(
    frames: FaceFrames, parent_face: np.ndarray, means: np.ndarray, quats: np.ndarray, log_scales: np.ndarray
) -> Binding:
    """The inverse of ``bind`` (without dynamics): express world Gaussians in their parents' frames."""
    pf = np.asarray(parent_face)
    rot = frames.rotations[pf]
    k = frames.sizes[pf]
    offset = (
        np.einsum("gji,gj->gi", rot, np.asarray(means, dtype=np.float64) - frames.origins[pf]) / k[:, None]
    )
    local = quat_multiply(
        quat_conjugate(frames.quaternions[pf]), quat_normalize(np.asarray(quats, np.float64))
    )
    dtype = np.result_type(means, quats, log_scales)
    return Binding(
        parent_face=pf.astype(np.int32),
        offset=offset.astype(dtype),
        rotation=local.astype(dtype),
        log_scale=(np.asarray(log_scales, np.float64) - frames.table[ROW_LOG_K][pf][:, None]).astype(dtype),
    )


def posed_gaussians(
    vertices: np.ndarray,
    faces: np.ndarray,
    binding: Binding,
    appearance: GaussianSet,
    dynamics: Dynamics | None = None,
    features: np.ndarray | None = None,
    shading: Shading | None = None,
    shading_scale: float = 1.0,
    shading_rotation: np.ndarray | None = None,
) -> GaussianSet:
    """Everything for one frame: the bound Gaussians on a posed mesh as a world ``GaussianSet``,
    with opacity and SH from ``appearance`` (the avatar's PLY) plus the dynamic deltas and the
    normal shading's DC change times ``shading_scale`` (core/avatar/shading.py; 0: none), its key
    light turned by ``shading_rotation`` (core/avatar/relight.py; None: as captured)."""
    deltas = None
    if dynamics is not None and features is not None:
        deltas = dynamics.deltas(features)
    frames = face_frames(vertices, faces)
    bound = bind(frames, binding, deltas)
    opacity = appearance.opacity_logits
    sh = appearance.sh
    shading = shading if shading_scale != 0.0 else None
    if deltas is not None or shading is not None:
        sh = sh.copy()
    if deltas is not None:
        opacity = opacity + deltas[:, DYN_OPACITY]
        sh[:, 0, :] += deltas[:, DYN_COLOR]
    if shading is not None:
        delta = shading.dc_delta(frames, binding.parent_face, shading_rotation)
        if shading_scale != 1.0:
            delta *= shading_scale
        sh[:, 0, :] += delta.astype(sh.dtype)
    return GaussianSet(
        means=bound.means, quats=bound.quats, log_scales=bound.log_scales, opacity_logits=opacity, sh=sh
    )
