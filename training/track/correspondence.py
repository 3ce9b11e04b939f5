"""Where each face landmark sits on a rig's mesh, found by the product itself for any FLAME-format
model: render the template from a few views (CPU rasterizer, skin-like shading), run the landmark
model on the renders, and keep for each landmark the triangle and barycentric position that the
views agree on. Landmarks the views disagree on (the face contour slides with the view) are marked
unstable and left out of the fit. Cached per model checksum."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.datasets.camera import look_at
from core.paths import default_cache_dir
from core.rig.model import RigModel

from .landmarks import NUM_LANDMARKS, FaceLandmarker
from .raster import project
from .shading import head_look, shade

LOG = logging.getLogger("training")

VERSION = 3
RENDER_SIZE = 512
FOCAL = 1100.0
DISTANCE = 0.65  # metres from the face: a portrait distance
VIEWS = (
    (0.0, 0.0), (-20.0, 0.0), (20.0, 0.0), (0.0, -12.0), (0.0, 12.0), (-12.0, 8.0), (12.0, -8.0),
    (-10.0, -6.0), (10.0, 6.0), (-30.0, 4.0), (30.0, -4.0),
)  # fmt: skip
STABLE_MM = 4.0  # a landmark is stable when most views put it within this of the views' median
MIN_VIEWS = 4


@dataclass
class Correspondence:
    face: np.ndarray  # (478,) triangle index (-1: never found)
    bary: np.ndarray  # (478,3)
    stable: np.ndarray  # (478,) bool
    spread_mm: np.ndarray  # (478,) largest distance of a view's point to the median (inf: too few views)
    views_used: int

    def points(self, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """(...,V,3) vertices -> (...,478,3) landmark positions (NaN where never found)."""
        tri = vertices[..., faces[np.maximum(self.face, 0)], :]  # (...,478,3,3)
        out = np.einsum("lk,...lkc->...lc", self.bary, tri)
        out[..., self.face < 0, :] = np.nan
        return out


def face_target(model: RigModel) -> np.ndarray:
    """A point in the middle of the face of the rest mesh: between the eyes, a little lower."""
    joints = model.joint_regressor @ model.v_template
    return 0.5 * (joints[3] + joints[4]) + np.array([0.0, -0.03, 0.0])


def orbit_camera(target: np.ndarray, yaw_deg: float, pitch_deg: float, distance: float) -> np.ndarray:
    """OpenCV world-to-camera looking at ``target`` from the front (+z) turned by yaw / pitch."""
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    offset = distance * np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
    return look_at(target + offset, target)


def intrinsics(focal: float, width: int, height: int) -> np.ndarray:
    return np.array([[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def _locate(
    point: np.ndarray, face_map: np.ndarray, uv: np.ndarray, z: np.ndarray, faces: np.ndarray
) -> tuple[int, np.ndarray] | None:
    """Triangle under pixel ``point`` and the perspective-correct barycentrics of the point in it."""
    h, w = face_map.shape
    x, y = round(float(point[0])), round(float(point[1]))
    if not (0 <= x < w and 0 <= y < h) or face_map[y, x] < 0:
        return None
    f = int(face_map[y, x])
    a, b, c = uv[faces[f]]
    m = np.array([[b[0] - a[0], c[0] - a[0]], [b[1] - a[1], c[1] - a[1]]])
    try:
        w1, w2 = np.linalg.solve(m, point - a)
    except np.linalg.LinAlgError:
        return None
    screen = np.clip(np.array([1.0 - w1 - w2, w1, w2]), 0.0, 1.0)
    persp = screen / z[faces[f]]
    return f, persp / persp.sum()


def find_correspondence(model: RigModel, landmarker: FaceLandmarker | None = None) -> Correspondence:
    own = landmarker is None
    marker = landmarker or FaceLandmarker(max_faces=1)
    look = head_look(model)
    rest = np.asarray(model.v_template, np.float64)
    faces = np.asarray(model.faces, np.int64)
    K = intrinsics(FOCAL, RENDER_SIZE, RENDER_SIZE)  # noqa: N806
    target = face_target(model)
    samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (face ids, barys, points) per view
    try:
        for yaw, pitch in VIEWS:
            w2c = orbit_camera(target, yaw, pitch, DISTANCE)
            image, frags = shade(look, rest, faces, K, w2c, RENDER_SIZE, RENDER_SIZE)
            found = marker(image)
            if found is None:
                LOG.debug("no face found on the template render at yaw %g pitch %g", yaw, pitch)
                continue
            uv, z = project(rest, K, w2c)
            ids = np.full(NUM_LANDMARKS, -1)
            barys = np.zeros((NUM_LANDMARKS, 3))
            for i, p in enumerate(found.points):
                hit = _locate(p, frags.face, uv, z, faces)
                if hit is not None:
                    ids[i], barys[i] = hit
            pts = np.einsum("lk,lkc->lc", barys, rest[faces[np.maximum(ids, 0)]])
            pts[ids < 0] = np.nan
            samples.append((ids, barys, pts))
    finally:
        if own:
            marker.close()
    if not samples:
        raise RuntimeError("the landmark model found no face on any render of the model's template")
    return _agree(samples, rest, faces)


def _closest_on_mesh(
    points: np.ndarray, rest: np.ndarray, faces: np.ndarray, candidates: int = 12
) -> tuple[np.ndarray, np.ndarray]:
    """(N,3) points -> the nearest surface point's (triangle (N,), barycentrics (N,3)), searched
    among the triangles around the ``candidates`` nearest vertices."""
    near = np.argsort(np.linalg.norm(rest[None] - points[:, None], axis=-1), axis=1)[:, :candidates]
    face_ids = np.empty(len(points), np.int64)
    barys = np.zeros((len(points), 3))
    for i, (p, verts) in enumerate(zip(points, near, strict=True)):
        tris = np.nonzero(np.isin(faces, verts).any(axis=1))[0]
        best = (np.inf, -1, np.zeros(3))
        for f in tris:
            bary = _closest_barycentrics(p, rest[faces[f]])
            dist = np.linalg.norm(bary @ rest[faces[f]] - p)
            if dist < best[0]:
                best = (dist, f, bary)
        face_ids[i], barys[i] = best[1], best[2]
    return face_ids, barys


def _closest_barycentrics(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Barycentrics of the point of triangle ``tri`` (3,3) nearest ``p`` (projection, then clamped
    to the triangle by the nearest edge point when it falls outside)."""
    a, b, c = tri
    e0, e1, d = b - a, c - a, p - a
    gram = np.array([[e0 @ e0, e0 @ e1], [e0 @ e1, e1 @ e1]])
    try:
        u, v = np.linalg.solve(gram, np.array([d @ e0, d @ e1]))
    except np.linalg.LinAlgError:
        return np.array([1.0, 0.0, 0.0])
    if u >= 0 and v >= 0 and u + v <= 1:
        return np.array([1.0 - u - v, u, v])
    best, out = np.inf, np.array([1.0, 0.0, 0.0])
    for i, j in ((0, 1), (1, 2), (2, 0)):
        seg = tri[j] - tri[i]
        t = float(np.clip((p - tri[i]) @ seg / max(seg @ seg, 1e-18), 0.0, 1.0))
        dist = np.linalg.norm(tri[i] + t * seg - p)
        if dist < best:
            best = dist
            out = np.zeros(3)
            out[i], out[j] = 1.0 - t, t
    return out


def _agree(
    samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]], rest: np.ndarray, faces: np.ndarray
) -> Correspondence:
    """Each landmark's place: the mean of the views' points that lie near their median (averaging
    the landmark model's noise), moved onto the surface; its spread says whether it is stable."""
    ids = np.stack([s[0] for s in samples])  # (N,478)
    pts = np.stack([s[2] for s in samples])  # (N,478,3)
    valid = ids >= 0
    count = valid.sum(axis=0)
    median = np.nanmedian(np.where(valid[..., None], pts, np.nan), axis=0)
    dist = np.where(valid, np.linalg.norm(pts - median[None], axis=-1) * 1000.0, np.inf)
    # Spread: the distance to the median that three quarters of the views stay within (one view
    # where the landmark model slipped does not make a landmark unstable; a contour that slides does).
    spread = np.where(count >= MIN_VIEWS, np.nanpercentile(np.where(valid, dist, np.nan), 75, axis=0), np.inf)
    inlier = dist <= 1.5 * STABLE_MM
    weight = inlier.sum(axis=0)
    mean = np.where(
        weight[:, None] > 0,
        np.nansum(np.where(inlier[..., None], pts, 0.0), axis=0) / np.maximum(weight, 1)[:, None],
        median,
    )
    found = count > 0
    face = np.full(ids.shape[1], -1)
    bary = np.zeros((ids.shape[1], 3))
    face[found], bary[found] = _closest_on_mesh(mean[found], rest, faces)
    stable = spread <= STABLE_MM
    return Correspondence(face=face, bary=bary, stable=stable, spread_mm=spread, views_used=len(samples))


def cache_path(model: RigModel, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Keyed by the model file's checksum, this code's version and the landmark model's version
    (another mediapipe may put its points elsewhere)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        landmarker = version("mediapipe")
    except PackageNotFoundError:
        landmarker = "none"
    key = model.source_sha256[:20] or "unnamed"
    return Path(cache_dir or default_cache_dir()) / "track" / f"landmarks_{key}_v{VERSION}_mp{landmarker}.npz"


def load_or_find(model: RigModel, cache_dir: str | os.PathLike[str] | None = None) -> Correspondence:
    """The cached correspondence of ``model`` (by file checksum), found and cached when missing."""
    path = cache_path(model, cache_dir)
    if model.source_sha256 and path.is_file():
        try:
            with np.load(path) as z:
                return Correspondence(
                    face=z["face"], bary=z["bary"], stable=z["stable"], spread_mm=z["spread_mm"],
                    views_used=int(z["views_used"]),
                )  # fmt: skip
        except (OSError, KeyError, ValueError):
            LOG.warning("ignoring an unreadable landmark cache %s", path)
    corr = find_correspondence(model)
    if model.source_sha256:
        from core.datasets.writers import atomic_savez

        atomic_savez(
            path,
            {"face": corr.face, "bary": corr.bary, "stable": corr.stable, "spread_mm": corr.spread_mm,
             "views_used": np.array(corr.views_used)},
        )  # fmt: skip
    return corr
