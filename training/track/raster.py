"""A small CPU mesh rasterizer (numpy + OpenCV): triangle ids, barycentrics and a shaded image.

The tracker renders a rig's template to find where the landmark model's points sit on the mesh
(correspondence.py), and the tests and benchmarks render ground-truth clips with it. Painter's
order (far triangles first) with back faces culled is exact enough for a closed head mesh at the
sizes used here, and costs one OpenCV fill per triangle.

Cameras are OpenCV (x right, y down, z forward) with pixel centres at integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SUBPIXEL_BITS = 4  # cv2.fillConvexPoly fixed-point shift: 1/16 px vertex precision


@dataclass
class Fragments:
    """Per pixel: the visible triangle (-1: none) and its perspective-correct barycentrics."""

    face: np.ndarray  # (H,W) int64
    bary: np.ndarray  # (H,W,3) float64 (zeros where face == -1)
    depth: np.ndarray  # (H,W) float64 camera-space z (inf where empty)

    @property
    def mask(self) -> np.ndarray:
        return self.face >= 0


def project(
    vertices: np.ndarray,
    K: np.ndarray,  # noqa: N803
    world_to_camera: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(V,3) world -> ((V,2) pixels, (V,) camera z)."""
    cam = vertices @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
    z = cam[:, 2]
    uv = (cam @ K.T)[:, :2] / np.where(np.abs(z) < 1e-9, 1e-9, z)[:, None]
    return uv, z


def rasterize(
    vertices: np.ndarray,
    faces: np.ndarray,
    K: np.ndarray,  # noqa: N803
    world_to_camera: np.ndarray,
    width: int,
    height: int,
) -> Fragments:
    """Visible triangle and barycentrics per pixel (back faces and triangles behind the camera culled)."""
    uv, z = project(np.asarray(vertices, np.float64), np.asarray(K, np.float64), np.asarray(world_to_camera))
    tri_uv = uv[faces]  # (F,3,2)
    tri_z = z[faces]
    e1 = tri_uv[:, 1] - tri_uv[:, 0]
    e2 = tri_uv[:, 2] - tri_uv[:, 0]
    signed_area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    # Counter-clockwise in a y-up view is clockwise with y down: front faces have negative area here.
    front = (signed_area < 0) & np.all(tri_z > 1e-6, axis=1)
    inside = np.all(
        (tri_uv[..., 0] > -width) & (tri_uv[..., 0] < 2 * width) & (tri_uv[..., 1] > -height),
        axis=1,
    ) & np.all(tri_uv[..., 1] < 2 * height, axis=1)
    order = np.nonzero(front & inside)[0]
    order = order[np.argsort(-tri_z[order].mean(axis=1), kind="stable")]  # far first

    ids = np.zeros((height, width, 3), np.uint8)  # id + 1 in 24 bits
    scale = float(1 << SUBPIXEL_BITS)
    fixed = np.round(tri_uv * scale).astype(np.int32)
    for f in order:
        code = int(f) + 1
        cv2.fillConvexPoly(
            ids, fixed[f], (code & 255, (code >> 8) & 255, (code >> 16) & 255), cv2.LINE_8, SUBPIXEL_BITS
        )
    face = (
        ids[..., 0].astype(np.int64)
        | (ids[..., 1].astype(np.int64) << 8)
        | (ids[..., 2].astype(np.int64) << 16)
    ) - 1

    bary = np.zeros((height, width, 3))
    depth = np.full((height, width), np.inf)
    ys, xs = np.nonzero(face >= 0)
    if len(ys):
        f = face[ys, xs]
        a, b, c = tri_uv[f, 0], tri_uv[f, 1], tri_uv[f, 2]
        p = np.stack([xs, ys], axis=1).astype(np.float64)
        v0, v1, v2 = b - a, c - a, p - a
        den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
        den = np.where(np.abs(den) < 1e-12, 1e-12, den)
        w1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
        w2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
        # Pixels at a small triangle's rim can lie just outside it: clamp into the triangle.
        screen = np.clip(np.stack([1.0 - w1 - w2, w1, w2], axis=1), 0.0, 1.0)
        screen /= np.maximum(screen.sum(axis=1, keepdims=True), 1e-12)
        persp = screen / tri_z[f]  # perspective-correct: interpolate attribute / z, then renormalise
        persp /= persp.sum(axis=1, keepdims=True)
        bary[ys, xs] = persp
        depth[ys, xs] = 1.0 / (screen / tri_z[f]).sum(axis=1)
    return Fragments(face=face, bary=bary, depth=depth)


def interpolate(fragments: Fragments, faces: np.ndarray, attribute: np.ndarray) -> np.ndarray:
    """(V,C) per-vertex attribute -> (H,W,C) per pixel (zeros where empty)."""
    h, w = fragments.face.shape
    out = np.zeros((h, w, attribute.shape[1]))
    ys, xs = np.nonzero(fragments.mask)
    if len(ys):
        f = fragments.face[ys, xs]
        out[ys, xs] = np.einsum("nk,nkc->nc", fragments.bary[ys, xs], attribute[faces[f]])
    return out
