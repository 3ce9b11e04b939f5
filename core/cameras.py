"""Camera maths of the engine (numpy, bpy-free): Blender's OpenGL matrices <-> the OpenCV camera
of docs/DESIGN.md, and the OpenGL projection the drawing uses, so viewport, F12 and the reference
rasterizer share one camera.

``ViewCamera`` holds the DESIGN.md convention: ``world_to_camera`` (x right, y down, z forward)
and intrinsics in pixels with pixel centres at integer coordinates (the image spans
[-0.5, W-0.5]). For an orthographic camera fx, fy are pixels per world unit and the projection of
a camera-space point is (fx x + cx, fy y + cy), whatever its depth.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


def affine_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of an affine 4x4 (last row 0 0 0 1) by cofactors: no LAPACK call, whose thread pool
    can stall for milliseconds next to a busy software GPU, once per splat object and frame."""
    m = np.asarray(matrix, dtype=np.float64)
    a = m[:3, :3]
    cof = np.cross(a[[1, 2, 0]], a[[2, 0, 1]])  # rows: cofactor rows of a, transposed adjugate
    det = float(a[0] @ cof[0])
    if det == 0.0:
        raise ValueError("the matrix is singular")
    inv = np.eye(4)
    inv[:3, :3] = cof.T / det
    inv[:3, 3] = -inv[:3, :3] @ m[:3, 3]
    return inv


# OpenGL camera axes (x right, y up, looking down -z) to OpenCV (x right, y down, z forward).
GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class ViewCamera:
    world_to_camera: np.ndarray  # (4,4) float64, OpenCV axes
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    orthographic: bool = False
    near: float = 0.01
    far: float = 1000.0
    # The uncropped image (x0, y0, x1, y1) in this camera's pixel-corner coordinates; a border
    # render crops the camera but keeps the full frame's frustum clamp, so pixels match.
    full_frame: tuple[float, float, float, float] | None = None

    @property
    def K(self) -> np.ndarray:  # noqa: N802 (the usual name)
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def camera_to_world(self) -> np.ndarray:
        return affine_inverse(self.world_to_camera)

    @property
    def position(self) -> np.ndarray:
        """The camera centre in world space (for orthographic cameras: a point on the view axis)."""
        return self.camera_to_world[:3, 3].copy()

    @property
    def forward(self) -> np.ndarray:
        """World direction of the view axis (camera +z)."""
        return self.camera_to_world[:3, 2].copy()

    def with_world(self, object_to_world: np.ndarray) -> ViewCamera:
        """The same camera seen from an object's local space: its world_to_camera @ object_to_world."""
        return replace(
            self, world_to_camera=self.world_to_camera @ np.asarray(object_to_world, dtype=np.float64)
        )

    @property
    def frame_box(self) -> tuple[float, float, float, float]:
        return self.full_frame or (0.0, 0.0, float(self.width), float(self.height))

    def crop(self, left: int, top: int, width: int, height: int) -> ViewCamera:
        """The sub-image [left, left+width) x [top, top+height) (top-down rows) as its own camera."""
        x0, y0, x1, y1 = self.frame_box
        return replace(
            self,
            cx=self.cx - left,
            cy=self.cy - top,
            width=int(width),
            height=int(height),
            full_frame=(x0 - left, y0 - top, x1 - left, y1 - top),
        )

    def gl_view(self) -> np.ndarray:
        """World -> OpenGL eye space."""
        return GL_TO_CV @ self.world_to_camera

    def gl_projection(self) -> np.ndarray:
        """OpenGL clip matrix for eye space that maps the image [0, W] x [0, H] (pixel corners,
        rows top-down) onto NDC [-1, 1] with +y up, and depth [near, far] onto [-1, 1]."""
        w, h, n, f = float(self.width), float(self.height), float(self.near), float(self.far)
        cx, cy = self.cx + 0.5, self.cy + 0.5  # corner convention
        p = np.zeros((4, 4))
        if self.orthographic:
            p[0, 0] = 2.0 * self.fx / w
            p[0, 3] = 2.0 * cx / w - 1.0
            p[1, 1] = 2.0 * self.fy / h
            p[1, 3] = 1.0 - 2.0 * cy / h
            p[2, 2] = -2.0 / (f - n)
            p[2, 3] = -(f + n) / (f - n)
            p[3, 3] = 1.0
        else:
            p[0, 0] = 2.0 * self.fx / w
            p[0, 2] = 1.0 - 2.0 * cx / w
            p[1, 1] = 2.0 * self.fy / h
            p[1, 2] = 2.0 * cy / h - 1.0
            p[2, 2] = -(f + n) / (f - n)
            p[2, 3] = -2.0 * f * n / (f - n)
            p[3, 2] = -1.0
        return p

    def project(self, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (centre convention) and depths of world points (N,3)."""
        pts = np.asarray(points_world, dtype=np.float64)
        cam = pts @ self.world_to_camera[:3, :3].T + self.world_to_camera[:3, 3]
        depth = cam[:, 2]
        if self.orthographic:
            xy = cam[:, :2]
        else:
            xy = cam[:, :2] / depth[:, None]
        pixels = xy * np.array([self.fx, self.fy]) + np.array([self.cx, self.cy])
        return pixels, depth


def from_gl_matrices(
    view_matrix: np.ndarray, window_matrix: np.ndarray, width: int, height: int
) -> ViewCamera:
    """The camera of Blender's view matrix (world -> eye) and window (projection) matrix for an
    image of width x height pixels: region_3d.view_matrix / window_matrix in the viewport,
    camera.matrix_world.inverted() / camera.calc_matrix_camera() for a render."""
    v = np.asarray(view_matrix, dtype=np.float64)
    p = np.asarray(window_matrix, dtype=np.float64)
    w, h = float(width), float(height)
    orthographic = abs(p[3, 3]) > 0.5
    fx = p[0, 0] * w / 2.0
    fy = p[1, 1] * h / 2.0
    if orthographic:
        cx_corner = (1.0 + p[0, 3]) * w / 2.0
        cy_corner = (1.0 - p[1, 3]) * h / 2.0
        near = (p[2, 3] + 1.0) / p[2, 2]
        far = (p[2, 3] - 1.0) / p[2, 2]
    else:
        cx_corner = (1.0 - p[0, 2]) * w / 2.0
        cy_corner = (1.0 + p[1, 2]) * h / 2.0
        near = p[2, 3] / (p[2, 2] - 1.0)
        far = p[2, 3] / (p[2, 2] + 1.0)
    return ViewCamera(
        world_to_camera=GL_TO_CV @ v,
        fx=float(fx),
        fy=float(fy),
        cx=float(cx_corner - 0.5),
        cy=float(cy_corner - 0.5),
        width=int(width),
        height=int(height),
        orthographic=bool(orthographic),
        near=float(near),
        far=float(far),
    )
