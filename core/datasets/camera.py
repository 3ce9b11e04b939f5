"""Cameras in the canonical convention of docs/DESIGN.md, and conversions from the conventions
datasets store.

Canonical: OpenCV ``world_to_camera`` 4x4 (x right, y down, z forward) and intrinsics ``K`` 3x3 in
pixels with pixel centres at integer coordinates (the image spans [-0.5, W - 0.5]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# OpenGL / Blender camera axes (x right, y up, z backward) <-> OpenCV (x right, y down, z forward).
GL_TO_CV_AXES = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated view. ``camera_id`` names the physical camera (several frames share it)."""

    camera_id: str
    world_to_camera: np.ndarray  # (4,4) float64, OpenCV axes
    K: np.ndarray  # (3,3) float64, pixels, pixel centres at integers
    width: int
    height: int

    @property
    def camera_to_world(self) -> np.ndarray:
        return invert_rigid(self.world_to_camera)

    @property
    def center(self) -> np.ndarray:
        """Camera position in world coordinates."""
        return self.camera_to_world[:3, 3].copy()

    @property
    def fx(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        return float(self.K[1, 2])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(N,3) world points -> (N,3) camera-space points (OpenCV axes)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        return pts @ self.world_to_camera[:3, :3].T + self.world_to_camera[:3, 3]

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N,3) world points -> (N,2) pixel coordinates (pixel centres at integers)."""
        cam = self.to_camera(points)
        uvw = cam @ self.K.T
        return uvw[:, :2] / uvw[:, 2:3]

    def same_pose(self, other: Camera, tol: float = 1e-9) -> bool:
        return (
            self.width == other.width
            and self.height == other.height
            and np.allclose(self.world_to_camera, other.world_to_camera, atol=tol, rtol=0.0)
            and np.allclose(self.K, other.K, atol=tol, rtol=0.0)
        )


def invert_rigid(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 4x4 rotation + translation (exact transpose, no general inverse)."""
    m = np.asarray(matrix, dtype=np.float64)
    out = np.eye(4)
    rot_t = m[:3, :3].T
    out[:3, :3] = rot_t
    out[:3, 3] = -rot_t @ m[:3, 3]
    return out


def intrinsics(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def opengl_c2w_to_opencv_w2c(camera_to_world: np.ndarray) -> np.ndarray:
    """NeRF / Blender ``transform_matrix`` (camera-to-world, camera looks down -z, y up) -> OpenCV
    world-to-camera."""
    return invert_rigid(np.asarray(camera_to_world, dtype=np.float64) @ GL_TO_CV_AXES)


def opencv_w2c_to_opengl_c2w(world_to_camera: np.ndarray) -> np.ndarray:
    return invert_rigid(world_to_camera) @ GL_TO_CV_AXES


def rigid(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = np.asarray(rotation, dtype=np.float64).reshape(3, 3)
    out[:3, 3] = np.asarray(translation, dtype=np.float64).reshape(3)
    return out


def rotation_error(rotation: np.ndarray) -> float:
    """How far a 3x3 matrix is from a proper rotation (max abs of R R^T - I, and det - 1)."""
    r = np.asarray(rotation, dtype=np.float64)
    return float(max(np.abs(r @ r.T - np.eye(3)).max(), abs(np.linalg.det(r) - 1.0)))


def look_at(
    eye: np.ndarray, target: np.ndarray, up: tuple[float, float, float] = (0.0, 1.0, 0.0)
) -> np.ndarray:
    """OpenCV world-to-camera of a camera at ``eye`` looking at ``target`` with world ``up`` upward
    in the image (image y points down, i.e. against ``up``)."""
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, dtype=np.float64))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rot = np.stack([right, down, forward])  # rows: camera axes in world coordinates
    return rigid(rot, -rot @ eye)
