"""Fit FLAME-format rig parameters to 2D face landmarks in torch (the rig's torch twin).

Unknowns: one shape shared by all frames; per frame expression, root rotation, neck, jaw, eyes and
translation (in the cameras' world); for a single uncalibrated camera also its focal length.
Energy: robust (pseudo-Huber) landmark reprojection over every view, landmarks facing away from a
camera faded out, Gaussian priors on shape, expression and the joint rotations, and temporal
smoothness. The eyes follow the iris landmarks and the jaw the lip landmarks through the mesh
itself: those landmarks sit on the eyeballs and lips (correspondence.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import torch

from core.rig.model import RigModel
from training.twins.lbs import TorchRig, axis_angle_to_matrix

from .correspondence import Correspondence

LOG = logging.getLogger("training")


@dataclass
class View:
    """One calibrated camera (OpenCV axes, pixel centres at integers)."""

    K: np.ndarray  # (3,3)
    world_to_camera: np.ndarray  # (4,4)
    width: int
    height: int


@dataclass
class FitSettings:
    rigid_iterations: int = 150
    iterations: int = 400
    learning_rate: float = 0.01
    shape_components: int = 50
    expression_components: int = 100
    huber_delta: float = 0.004  # of the face size: about a pixel on a 250-pixel face
    shape_prior: float = 1e-3
    expression_prior: float = 2e-4
    neck_prior: float = 2e-2
    jaw_prior: float = 1e-3
    eyes_prior: float = 1e-3
    smooth: float = 5e-2
    estimate_focal: bool = False
    focal_prior: float = 1e-3


@dataclass
class FitResult:
    shape: np.ndarray  # (S,)
    expression: np.ndarray  # (T,E)
    pose: np.ndarray  # (T,5,3) rotation, neck, jaw, left eye, right eye
    translation: np.ndarray  # (T,3)
    focal_scale: float  # fitted focal / given focal (1.0 when not estimated)
    rmse_px: np.ndarray  # (T,) landmark reprojection RMSE per frame over the used landmarks (NaN: none)
    seconds: float = 0.0
    history: list[float] = field(default_factory=list)


def _rigid_init(
    model: RigModel, corr: Correspondence, used: np.ndarray, points: np.ndarray, views: list[View]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame root rotation and translation from PnP on the template's landmark points; frames
    without landmarks take their nearest neighbour's. Returns (rot (T,3), transl (T,3), found (T,))."""
    rest = np.asarray(model.v_template, np.float64)
    model_pts = corr.points(rest, np.asarray(model.faces))[used]
    root = (np.asarray(model.joint_regressor) @ rest)[0]
    nframes = points.shape[0]
    rot = np.zeros((nframes, 3))
    transl = np.zeros((nframes, 3))
    found = np.zeros(nframes, bool)
    for t in range(nframes):
        for c, view in enumerate(views):
            obs = points[t, c][used]
            ok = np.all(np.isfinite(obs), axis=1)
            if ok.sum() < 12:
                continue
            success, rvec, tvec = cv2.solvePnP(model_pts[ok], obs[ok], view.K, None, flags=cv2.SOLVEPNP_EPNP)
            if not success:
                continue
            success, rvec, tvec = cv2.solvePnP(
                model_pts[ok], obs[ok], view.K, None, rvec, tvec, True, cv2.SOLVEPNP_ITERATIVE
            )
            r_cam, t_cam = view.world_to_camera[:3, :3], view.world_to_camera[:3, 3]
            r_pnp = cv2.Rodrigues(rvec)[0]
            r_world = r_cam.T @ r_pnp
            rot[t] = cv2.Rodrigues(r_world)[0].ravel()
            transl[t] = r_cam.T @ (tvec.ravel() - t_cam) + r_world @ root - root
            found[t] = True
            break
    if not found.any():
        raise ValueError("no frame has enough landmarks to place the head")
    idx = np.nonzero(found)[0]
    for t in np.nonzero(~found)[0]:
        nearest = idx[np.argmin(np.abs(idx - t))]
        rot[t], transl[t] = rot[nearest], transl[nearest]
    return rot, transl, found


def landmark_submodel(model: RigModel, vertex_ids: np.ndarray) -> RigModel:
    """The rig restricted to ``vertex_ids`` plus one extra vertex per joint that carries the joint's
    regressed rest position (linear in shape and expression, so exact): the same posed positions
    for those vertices at a fraction of the cost of the whole mesh."""
    reg = np.asarray(model.joint_regressor, np.float64)
    nj, nsub = model.num_joints, len(vertex_ids)
    joint_regressor = np.zeros((nj, nsub + nj))
    joint_regressor[:, nsub:] = np.eye(nj)
    pose_dirs = np.concatenate([model.pose_dirs[vertex_ids], np.zeros((nj, 3, model.num_pose_features))])
    return replace(
        model,
        v_template=np.concatenate([model.v_template[vertex_ids], reg @ model.v_template]),
        faces=np.zeros((0, 3), np.int32),
        shape_dirs=np.concatenate(
            [model.shape_dirs[vertex_ids], np.einsum("jv,vcs->jcs", reg, model.shape_dirs)]
        ),
        expr_dirs=np.concatenate(
            [model.expr_dirs[vertex_ids], np.einsum("jv,vce->jce", reg, model.expr_dirs)]
        ),
        pose_dirs=pose_dirs,
        joint_regressor=joint_regressor,
        weights=np.concatenate([model.weights[vertex_ids], np.eye(nj)]),
    )


def _pseudo_huber(residual: torch.Tensor, delta: float) -> torch.Tensor:
    return delta * delta * (torch.sqrt(1.0 + (residual / delta) ** 2) - 1.0)


class LandmarkFitter:
    def __init__(
        self,
        model: RigModel,
        corr: Correspondence,
        views: list[View],
        points: np.ndarray,  # (T,C,478,2) pixels, NaN where missing
        settings: FitSettings | None = None,
        device: str = "cpu",
    ) -> None:
        self.settings = settings or FitSettings()
        self.model = model
        self.views = views
        self.device = torch.device(device)
        self.used = np.nonzero(corr.stable & (corr.face >= 0))[0]
        self.corr = corr
        dev, f32 = self.device, torch.float32
        faces = np.asarray(model.faces, np.int64)[corr.face[self.used]]  # (L,3)
        # Only the landmarks' triangles are posed while fitting (see landmark_submodel).
        self.vertex_ids, local = np.unique(faces, return_inverse=True)
        self.rig = TorchRig(landmark_submodel(model, self.vertex_ids), dtype=torch.float32, device=dev)
        self.tri = torch.as_tensor(local.reshape(faces.shape), device=dev)
        self.bary = torch.as_tensor(corr.bary[self.used], dtype=f32, device=dev)
        obs = points[:, :, self.used]  # (T,C,L,2)
        self.points_np = points
        valid = np.all(np.isfinite(obs), axis=-1)
        self.valid = torch.as_tensor(valid, device=dev)
        self.obs = torch.as_tensor(np.nan_to_num(obs), dtype=f32, device=dev)
        # Residuals are measured in face sizes, so weights mean the same at any resolution.
        seen = valid.any(axis=2)  # (T,C)
        span = np.where(
            seen[..., None],
            np.max(np.where(valid[..., None], obs, -np.inf), axis=2)
            - np.min(np.where(valid[..., None], obs, np.inf), axis=2),
            0.0,
        )  # (T,C,2)
        size = np.sqrt(np.abs(span[..., 0] * span[..., 1]))
        frame_size = np.nanmedian(np.where(size > 0, size, np.nan)) if np.any(size > 0) else 100.0
        self.face_size = torch.as_tensor(np.where(size > 0, size, frame_size), dtype=f32, device=dev)
        self.K = torch.as_tensor(np.stack([v.K for v in views]), dtype=f32, device=dev)
        self.w2c = torch.as_tensor(np.stack([v.world_to_camera for v in views]), dtype=f32, device=dev)
        self.nframes = points.shape[0]
        self.view_weight = torch.ones(valid.shape[:2], device=dev)  # (T,C), see _weigh_views

    def landmarks_3d(self, vertices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(T,V,3) -> ((T,L,3) landmark points, (T,L,3) triangle normals)."""
        tri = vertices[:, self.tri]  # (T,L,3,3)
        pts = (tri * self.bary[None, :, :, None]).sum(dim=2)
        normal = torch.linalg.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0])
        return pts, torch.nn.functional.normalize(normal, dim=-1)

    def project(self, pts: torch.Tensor, focal_scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(T,L,3) world -> ((T,C,L,2) pixels, (T,C,L,3) camera-space points)."""
        cam = torch.einsum("cij,tlj->tcli", self.w2c[:, :3, :3], pts) + self.w2c[None, :, None, :3, 3]
        z = cam[..., 2:3].clamp_min(1e-4)
        fx = self.K[:, 0, 0][None, :, None] * focal_scale
        fy = self.K[:, 1, 1][None, :, None] * focal_scale
        u = fx * cam[..., 0] / z[..., 0] + self.K[:, 0, 2][None, :, None]
        v = fy * cam[..., 1] / z[..., 0] + self.K[:, 1, 2][None, :, None]
        return torch.stack([u, v], dim=-1), cam

    def fit(self, should_stop: Callable[[], bool] = lambda: False,
            progress: Callable[[str, int, int, float], None] | None = None) -> FitResult:  # fmt: skip
        s = self.settings
        start = time.perf_counter()
        dev, f32 = self.device, torch.float32
        rot0, transl0, _found = _rigid_init(self.model, self.corr, self.used, self.points_np, self.views)
        nt = self.nframes
        ns = min(s.shape_components, self.model.num_shape)
        ne = min(s.expression_components, self.model.num_expression)
        params = {
            "rotation": torch.tensor(rot0, dtype=f32, device=dev, requires_grad=True),
            "translation": torch.tensor(transl0, dtype=f32, device=dev, requires_grad=True),
            "log_focal": torch.zeros((), dtype=f32, device=dev, requires_grad=True),
            "shape": torch.zeros(ns, dtype=f32, device=dev, requires_grad=True),
            "expression": torch.zeros(nt, ne, dtype=f32, device=dev, requires_grad=True),
            "neck": torch.zeros(nt, 3, dtype=f32, device=dev, requires_grad=True),
            "jaw": torch.zeros(nt, 3, dtype=f32, device=dev, requires_grad=True),
            "eyes": torch.zeros(nt, 6, dtype=f32, device=dev, requires_grad=True),
        }
        history: list[float] = []
        focal = ["log_focal"] if s.estimate_focal else []
        stages = (
            ("rigid", s.rigid_iterations, ["rotation", "translation", *focal]),
            ("full", s.iterations, [k for k in params if k != "log_focal"] + focal),
        )
        total = sum(n for _, n, _ in stages)
        done = 0
        for stage, iterations, names in stages:
            self._weigh_views(params, stage == "full")
            optim = torch.optim.Adam([params[k] for k in names], lr=s.learning_rate)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(
                optim, iterations, eta_min=s.learning_rate * 0.05
            )
            for _ in range(iterations):
                if should_stop():
                    raise InterruptedError
                optim.zero_grad(set_to_none=True)
                loss = self._energy(params, stage == "full")
                loss.backward()
                optim.step()
                sched.step()
                done += 1
                history.append(float(loss.detach()))
                if progress is not None and (done % 25 == 0 or done == total):
                    progress(stage, done, total, history[-1])
        with torch.no_grad():
            rmse = self._rmse(params)
        eyes = params["eyes"]
        pose = torch.stack(
            [params["rotation"], params["neck"], params["jaw"], eyes[:, :3], eyes[:, 3:]], dim=1
        )
        return FitResult(
            shape=params["shape"].detach().cpu().numpy().astype(np.float64),
            expression=params["expression"].detach().cpu().numpy().astype(np.float64),
            pose=pose.detach().cpu().numpy().astype(np.float64),
            translation=params["translation"].detach().cpu().numpy().astype(np.float64),
            focal_scale=float(torch.exp(params["log_focal"].detach())),
            rmse_px=rmse,
            seconds=time.perf_counter() - start,
            history=history,
        )

    def _vertices(self, p: dict[str, torch.Tensor], full: bool) -> torch.Tensor:
        nt = self.nframes
        zeros = torch.zeros(nt, 3, dtype=p["rotation"].dtype, device=self.device)
        if full:
            pose = torch.stack(
                [p["rotation"], p["neck"], p["jaw"], p["eyes"][:, :3], p["eyes"][:, 3:]], dim=1
            )
            out = self.rig(betas=p["shape"], expression=p["expression"], pose=pose, transl=p["translation"])
        else:
            pose = torch.stack([p["rotation"], zeros, zeros, zeros, zeros], dim=1)
            out = self.rig(pose=pose, transl=p["translation"])
        return out.vertices

    def _residuals(self, p: dict[str, torch.Tensor], full: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(T,C,L) residual lengths in face sizes and (T,C,L) weights (visibility x detection)."""
        verts = self._vertices(p, full)
        pts, normals = self.landmarks_3d(verts)
        uv, cam = self.project(pts, torch.exp(p["log_focal"]))
        with torch.no_grad():
            # Landmarks on triangles that face away from a camera are the model's guesses: fade them.
            cam_normals = torch.einsum("cij,tlj->tcli", self.w2c[:, :3, :3], normals)
            facing = -(cam_normals * torch.nn.functional.normalize(cam, dim=-1)).sum(-1)
            weight = torch.sigmoid((facing - 0.1) * 20.0) * self.valid * self.view_weight[..., None]
        diff = (uv - self.obs) / self.face_size[..., None, None]
        return torch.sqrt((diff * diff).sum(-1) + 1e-12), weight

    @torch.no_grad()
    def _weigh_views(self, p: dict[str, torch.Tensor], full: bool) -> None:
        """Trust each image by how well the current fit explains its landmarks: a view where the
        landmark model went astray (a profile, a wrong face) weighs less. Residuals are the median
        over landmarks, compared with the median of all images."""
        self.view_weight = torch.ones(self.valid.shape[:2], device=self.device)
        res, weight = self._residuals(p, full)
        res = torch.where(weight > 0.5, res, torch.nan)
        per_view = torch.nanmedian(res.flatten(2), dim=2).values  # (T,C)
        seen = torch.isfinite(per_view)
        if seen.sum() < 2:
            return
        typical = per_view[seen].median().clamp_min(self.settings.huber_delta)
        ratio = torch.nan_to_num(per_view / (2.0 * typical), nan=0.0)
        self.view_weight = 1.0 / (1.0 + ratio**2)

    def _energy(self, p: dict[str, torch.Tensor], full: bool) -> torch.Tensor:
        s = self.settings
        res, weight = self._residuals(p, full)
        count = weight.sum().clamp_min(1.0)
        data = (_pseudo_huber(res, s.huber_delta) * weight).sum() / count * 1e3
        nt = max(self.nframes, 1)
        loss = data
        if s.estimate_focal:
            loss = loss + s.focal_prior * p["log_focal"] ** 2
        smooth_keys = ["rotation", "translation"]
        if full:
            loss = loss + s.shape_prior * (p["shape"] ** 2).sum()
            loss = loss + s.expression_prior * (p["expression"] ** 2).sum() / nt
            loss = loss + s.neck_prior * (p["neck"] ** 2).sum() / nt
            loss = loss + s.jaw_prior * (p["jaw"] ** 2).sum() / nt
            loss = loss + s.eyes_prior * (p["eyes"] ** 2).sum() / nt
            smooth_keys += ["expression", "neck", "jaw", "eyes"]
        if self.nframes > 1 and s.smooth > 0:
            for key in smooth_keys:
                step = p[key][1:] - p[key][:-1]
                scale = 10.0 if key == "translation" else 1.0  # metres: 10 cm weighs as 0.1 rad
                loss = loss + s.smooth * (scale * scale) * (step**2).sum() / nt
        return loss

    def _rmse(self, p: dict[str, torch.Tensor]) -> np.ndarray:
        verts = self._vertices(p, True)
        pts, _ = self.landmarks_3d(verts)
        uv, _ = self.project(pts, torch.exp(p["log_focal"]))
        err2 = ((uv - self.obs) ** 2).sum(-1)  # (T,C,L)
        valid = self.valid.float()
        n = valid.sum(dim=(1, 2))
        mse = (err2 * valid).sum(dim=(1, 2)) / n.clamp_min(1.0)
        out = torch.sqrt(mse).cpu().numpy().astype(np.float64)
        out[n.cpu().numpy() == 0] = np.nan
        return out


def rotation_matrix(axis_angle: np.ndarray) -> np.ndarray:
    return axis_angle_to_matrix(torch.as_tensor(axis_angle, dtype=torch.float64)).numpy()
