"""Ground-truth clips for the tracker's tests and benchmark: a FLAME-format head with known
parameters (a head turn, talking-like expressions, blinks and gaze) rendered by the CPU rasterizer
with skin-like shading, from one camera or a ring of cameras. Also the errors that compare a fit
with the truth (vertex error after a similarity alignment)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.datasets.camera import look_at
from core.rig.model import RigModel

from .correspondence import face_target, intrinsics
from .fitter import View
from .shading import HeadLook, shade

TALK = ("jawOpen", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
        "mouthStretchRight", "mouthRollLower", "mouthUpperUpLeft", "mouthUpperUpRight")  # fmt: skip
BROWS = ("browInnerUp", "browDownLeft", "browDownRight")
BLINK = ("eyeBlinkLeft", "eyeBlinkRight")


@dataclass
class Sequence:
    shape: np.ndarray  # (S,)
    expression: np.ndarray  # (T,E)
    pose: np.ndarray  # (T,5,3) rotation, neck, jaw, left eye, right eye
    translation: np.ndarray  # (T,3)

    @property
    def num_frames(self) -> int:
        return int(self.expression.shape[0])


def _index(model: RigModel, names: tuple[str, ...]) -> list[int]:
    return [model.expression_names.index(n) for n in names if n in model.expression_names]


def talking_sequence(model: RigModel, frames: int, max_yaw_deg: float = 45.0, seed: int = 0) -> Sequence:
    """A head turning left and right up to ``max_yaw_deg`` (and nodding a little) while talking."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, frames)
    shape = np.zeros(model.num_shape)
    shape[:8] = rng.normal(0.0, 0.5, min(8, model.num_shape))
    expr = np.zeros((frames, model.num_expression))
    talk, brows, blink = _index(model, TALK), _index(model, BROWS), _index(model, BLINK)
    if talk:
        phases = rng.uniform(0, 2 * np.pi, len(talk))
        speeds = rng.uniform(2.0, 5.0, len(talk))
        for k, (i, ph, sp) in enumerate(zip(talk, phases, speeds, strict=True)):
            amp = 0.6 if k == 0 else 0.35
            expr[:, i] = amp * np.clip(np.sin(2 * np.pi * sp * t + ph), 0.0, None)
    else:  # a model without names: smooth random expressions in its first components
        n = min(10, model.num_expression)
        for i in range(n):
            expr[:, i] = 0.8 * np.sin(2 * np.pi * rng.uniform(1, 4) * t + rng.uniform(0, 6))
    for i in brows:
        expr[:, i] = 0.4 * np.clip(np.sin(2 * np.pi * 1.5 * t + rng.uniform(0, 6)), 0.0, None)
    for i in blink:
        expr[:, i] = np.exp(-(((t - 0.55) * frames / 1.5) ** 2))
    yaw = np.radians(max_yaw_deg) * np.sin(2 * np.pi * t)
    pitch = np.radians(10.0) * np.sin(2 * np.pi * 1.5 * t + 0.5)
    pose = np.zeros((frames, 5, 3))
    pose[:, 0] = np.stack([0.7 * pitch, 0.7 * yaw, np.radians(5.0) * np.sin(2 * np.pi * t)], axis=1)
    pose[:, 1] = np.stack([0.3 * pitch, 0.3 * yaw, np.zeros(frames)], axis=1)
    pose[:, 2, 0] = 0.12 * np.clip(np.sin(2 * np.pi * 3.0 * t), 0.0, None)
    gaze = np.stack(
        [np.radians(8.0) * np.sin(2 * np.pi * 2 * t), np.radians(12.0) * np.sin(2 * np.pi * t + 1)], 1
    )
    pose[:, 3, :2] = gaze
    pose[:, 4, :2] = gaze
    translation = np.stack([0.01 * np.sin(2 * np.pi * t), 0.005 * np.cos(2 * np.pi * t), np.zeros(frames)], 1)
    return Sequence(shape=shape, expression=expr, pose=pose, translation=translation)


def front_view(model: RigModel, size: int, distance: float = 0.6, fov_deg: float = 30.0) -> View:
    focal = 0.5 * size / np.tan(np.radians(fov_deg) / 2.0)
    target = face_target(model)
    w2c = look_at(target + np.array([0.0, 0.0, distance]), target)
    return View(K=intrinsics(focal, size, size), world_to_camera=w2c, width=size, height=size)


def arc_views(
    model: RigModel, count: int, size: int, distance: float = 0.8, fov_deg: float = 25.0
) -> list[View]:
    """``count`` cameras on an arc in front of the head like NeRSemble's (93 degrees across, rows
    16 degrees above and below the face alternating)."""
    focal = 0.5 * size / np.tan(np.radians(fov_deg) / 2.0)
    target = face_target(model)
    views = []
    for i, angle in enumerate(np.linspace(-46.5, 46.5, count)):
        yaw, pitch = np.radians(angle), np.radians(16.0 if i % 2 else -16.0)
        offset = distance * np.array(
            [np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)]
        )
        w2c = look_at(target + offset, target)
        views.append(View(K=intrinsics(focal, size, size), world_to_camera=w2c, width=size, height=size))
    return views


def posed_vertices(model: RigModel, seq: Sequence) -> np.ndarray:
    """(T,V,3) vertices of ``seq`` (numpy reference forward)."""
    from core.rig.lbs import forward

    frames = []
    for t in range(seq.num_frames):
        out = forward(
            model, betas=seq.shape, expression=seq.expression[t], pose=seq.pose[t], transl=seq.translation[t]
        )
        frames.append(out.vertices)
    return np.stack(frames)


def render_frames(model: RigModel, look: HeadLook, vertices: np.ndarray, view: View) -> list[np.ndarray]:
    faces = np.asarray(model.faces, np.int64)
    return [shade(look, v, faces, view.K, view.world_to_camera, view.width, view.height)[0] for v in vertices]


def similarity_align(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``source`` (N,3) moved by the scale, rotation and translation that best match ``target``
    (Umeyama's closed form)."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    s, t = source - mu_s, target - mu_t
    u, sig, vt = np.linalg.svd(t.T @ s / len(s))
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.diag([1.0, 1.0, d])
    rot = u @ fix @ vt
    scale = float(np.trace(np.diag(sig) @ fix) / (s * s).sum(axis=1).mean())
    return scale * s @ rot.T + mu_t


def vertex_error_mm(fitted: np.ndarray, truth: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean per-vertex distance (mm) after aligning each frame's fitted mesh to the truth by a
    similarity on ``region`` (all vertices when None); the error is measured on the region too."""
    sel = slice(None) if region is None else region
    errors = []
    for f, g in zip(fitted, truth, strict=True):
        aligned = similarity_align(f[sel], g[sel])
        errors.append(np.linalg.norm(aligned - g[sel], axis=1).mean())
    return float(np.mean(errors) * 1000.0)


def face_region(model: RigModel) -> np.ndarray:
    """Vertices of the face: in front of the ears, between the brows and the chin (rest mesh)."""
    rest = np.asarray(model.v_template)
    joints = np.asarray(model.joint_regressor) @ rest
    eyes = 0.5 * (joints[3] + joints[4])
    rel = rest - eyes
    return np.nonzero(
        (rel[:, 2] > -0.03) & (rel[:, 1] < 0.045) & (rel[:, 1] > -0.12) & (np.abs(rel[:, 0]) < 0.075)
    )[0]
