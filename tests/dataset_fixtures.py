"""Small datasets in every supported format, written from a known ground truth.

Each writer encodes cameras the way its format stores them (OpenGL camera-to-world, IMavatar's
negated and normalised intrinsics with a world scaled by 4, ActorsHQ's normalised axis-angle
camera-to-world, ...), independently of the readers' conversion code, and returns a ``Truth`` with
the canonical OpenCV cameras, the splits and the parameters the reader must give back. Images show
a bright dot where a known 3D point projects, so tests can check pixels too.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.spatial.transform import Rotation

from engine.rig.model import FLAME_JOINT_NAMES, SMPLX_JOINT_NAMES, RigModel

WIDTH, HEIGHT = 40, 30  # deliberately not square: catches swapped axes
POINT = np.array([0.03, 0.05, -0.02])  # the known point, dataset world (model Y-up space, metres)


@dataclass
class Truth:
    root: Path
    format: str
    # (camera_id, timestep) -> (world_to_camera 4x4 OpenCV, K 3x3, width, height)
    cameras: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, int, int]]
    splits: dict[tuple[str, int], str]
    params: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    family: str | None = None
    rig_status: str = "ok"

    def pixel(self, camera_id: str, timestep: int, point: np.ndarray = POINT) -> np.ndarray:
        """Explicit pinhole projection (pixel centres at integers)."""
        w2c, k, _, _ = self.cameras[(camera_id, timestep)]
        x, y, z = w2c[:3, :3] @ point + w2c[:3, 3]
        return np.array([k[0, 0] * x / z + k[0, 2], k[1, 1] * y / z + k[1, 2]])


# ----------------------------------------------------------------------------- cameras and images


def look_at_cv(eye: np.ndarray, target: np.ndarray = np.zeros(3)) -> np.ndarray:  # noqa: B008
    """World-to-camera (OpenCV) from first principles, world Y up."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    w2c = np.eye(4)
    w2c[:3, :3] = np.stack([right, down, forward])
    w2c[:3, 3] = -w2c[:3, :3] @ eye
    return w2c


def ring_cameras(count: int, radius: float = 0.9, wobble: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """(w2c, K) for cameras around the origin, each with its own off-centre intrinsics."""
    out = []
    for i in range(count):
        angle = 2 * math.pi * i / count + 0.3
        eye = np.array([radius * math.sin(angle), 0.1 + 0.05 * i, radius * math.cos(angle)])
        fx = 48.0 + 3.0 * i
        fy = fx * (1.02 if (wobble and i == 1) else 1.0)
        cx = WIDTH / 2 - 0.5 + (1.7 * i - 1.0 if wobble else 0.0)
        cy = HEIGHT / 2 - 0.5 + (-0.9 * i + 0.6 if wobble else 0.0)
        out.append((look_at_cv(eye), np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])))
    return out


def write_image(
    path: Path, pixel: np.ndarray, width: int = WIDTH, height: int = HEIGHT, rgba: bool = False
) -> None:
    """Grey image with a white 3x3 dot centred on ``pixel`` (rounded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((height, width, 4 if rgba else 3), 60, dtype=np.uint8)
    if rgba:
        arr[..., 3] = 0
    u, v = round(float(pixel[0])), round(float(pixel[1]))
    arr[max(v - 1, 0) : v + 2, max(u - 1, 0) : u + 2] = 255
    Image.fromarray(arr).save(path, quality=95)


def write_mask(path: Path, pixel: np.ndarray, width: int = WIDTH, height: int = HEIGHT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width]
    inside = (xx - pixel[0]) ** 2 + (yy - pixel[1]) ** 2 <= 36
    Image.fromarray((inside * 255).astype(np.uint8)).save(path, quality=95)


def _project(w2c: np.ndarray, k: np.ndarray, point: np.ndarray = POINT) -> np.ndarray:
    x, y, z = w2c[:3, :3] @ point + w2c[:3, 3]
    return np.array([k[0, 0] * x / z + k[0, 2], k[1, 1] * y / z + k[1, 2]])


# ----------------------------------------------------------------------------- parameters


def flame_params(timestep: int, num_vertices: int | None = 60, rng_seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(rng_seed + 17 * timestep)
    out = {
        "shape": np.linspace(-0.5, 0.5, 300) * (1 + rng_seed),
        "expr": rng.normal(0, 0.5, 100),
        "rotation": rng.normal(0, 0.1, 3),
        "neck_pose": rng.normal(0, 0.1, 3),
        "jaw_pose": np.array([abs(rng.normal(0, 0.1)), 0.0, 0.0]),
        "eyes_pose": rng.normal(0, 0.05, 6),
        "translation": rng.normal(0, 0.01, 3),
    }
    if num_vertices:
        out["static_offset"] = np.random.default_rng(rng_seed).normal(0, 0.001, (num_vertices, 3))
    return out


def smplx_sequence(count: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "betas": rng.normal(0, 0.5, (1, 10)),
        "global_orient": rng.normal(0, 0.2, (count, 3)),
        "transl": rng.normal(0, 0.05, (count, 3)),
        "body_pose": rng.normal(0, 0.2, (count, 63)),
        "jaw_pose": rng.normal(0, 0.05, (count, 3)),
        "expression": rng.normal(0, 0.5, (count, 10)),
        "left_hand_pose": rng.normal(0, 0.2, (count, 45)),
        "right_hand_pose": rng.normal(0, 0.2, (count, 45)),
    }


def smplx_frame(seq: dict[str, np.ndarray], index: int) -> dict[str, np.ndarray]:
    out = {"betas": seq["betas"][0]}
    out.update({k: v[index] for k, v in seq.items() if k != "betas"})
    return out


# ----------------------------------------------------------------------------- GaussianAvatars


def write_gaussian_avatars(
    root: Path,
    cameras: int = 3,
    timesteps: int = 4,
    val_camera: int = 2,
    test_timesteps: tuple[int, ...] = (3,),
    num_vertices: int | None = 60,
    image_ext: str = ".png",
    omit_extension: bool = False,
) -> Truth:
    """transforms_{train,val,test}.json with OpenGL camera-to-world, per-frame intrinsics."""
    root.mkdir(parents=True, exist_ok=True)
    cams = ring_cameras(cameras)
    cam_ids = [f"2200{i:05d}" for i in range(cameras)]
    truth = Truth(root, "gaussian_avatars", {}, {}, family="FLAME")
    files: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    (root / "flame_param").mkdir(exist_ok=True)
    for t in range(timesteps):
        params = flame_params(t, num_vertices)
        np.savez(
            root / "flame_param" / f"{t:05d}.npz",
            **{k: (v if k == "shape" else v[None]) for k, v in params.items()},
        )
        truth.params[t] = params
        for c, (w2c, k) in enumerate(cams):
            split = "test" if t in test_timesteps else ("val" if c == val_camera else "train")
            c2w_gl = np.linalg.inv(w2c)
            c2w_gl[:3, 1] *= -1.0  # OpenCV y down -> OpenGL y up
            c2w_gl[:3, 2] *= -1.0  # OpenCV z forward -> OpenGL z backward
            name = f"images/{t:05d}_{c:02d}{image_ext}"
            pixel = _project(w2c, k)
            write_image(root / name, pixel)
            write_mask(root / f"fg_masks/{t:05d}_{c:02d}.png", pixel)
            files[split].append(
                {
                    "timestep_index": t,
                    "timestep_index_original": t * 3,
                    "timestep_id": f"frame_{t * 3:05d}",
                    "camera_index": c,
                    "camera_id": cam_ids[c],
                    "cx": k[0, 2],
                    "cy": k[1, 2],
                    "fl_x": k[0, 0],
                    "fl_y": k[1, 1],
                    "h": HEIGHT,
                    "w": WIDTH,
                    "camera_angle_x": 2 * math.atan(WIDTH / (2 * k[0, 0])),
                    "camera_angle_y": 2 * math.atan(HEIGHT / (2 * k[1, 1])),
                    "transform_matrix": c2w_gl.tolist(),
                    "file_path": name[: -len(image_ext)] if omit_extension else name,
                    "fg_mask_path": f"fg_masks/{t:05d}_{c:02d}.png",
                    "flame_param_path": f"flame_param/{t:05d}.npz",
                }
            )
            truth.cameras[(cam_ids[c], t)] = (w2c, k, WIDTH, HEIGHT)
            truth.splits[(cam_ids[c], t)] = split
    for split, frames in files.items():
        top = {
            "camera_indices": list(range(cameras)),
            "timestep_indices": sorted({f["timestep_index"] for f in frames}),
            "frames": frames,
        }
        (root / f"transforms_{split}.json").write_text(json.dumps(top, indent=1))
    np.savez(
        root / "canonical_flame_param.npz", **{k: v[None] for k, v in flame_params(0, num_vertices).items()}
    )
    return truth


# ----------------------------------------------------------------------------- IMavatar


def write_imavatar(root: Path, frames: int = 10, moving_camera: bool = True) -> Truth:
    """flame_params.json: normalised intrinsics with fx negated, world_mat in IMavatar's camera
    axes (OpenGL-like) for a world scaled by 4."""
    root.mkdir(parents=True, exist_ok=True)
    (w2c0, k), *_ = ring_cameras(1)
    truth = Truth(root, "imavatar", {}, {}, family="FLAME")
    shape = np.linspace(-1, 1, 100)
    json_frames = []
    flip = np.diag([1.0, -1.0, -1.0])
    n_test = max(1, round(frames * 0.1))
    for t in range(frames):
        w2c = w2c0.copy()
        if moving_camera:
            w2c[:3, 3] += np.array([0.002 * t, -0.001 * t, 0.003 * t])
        world_mat = np.zeros((3, 4))
        world_mat[:, :3] = flip @ w2c[:3, :3]
        world_mat[:, 3] = flip @ w2c[:3, 3] * 4.0
        rng = np.random.default_rng(t)
        pose = rng.normal(0, 0.1, 15)
        expression = rng.normal(0, 0.5, 50)
        pixel = _project(w2c, k)
        write_image(root / "image" / f"{t + 1}.png", pixel)
        write_mask(root / "mask" / f"{t + 1}.png", pixel)
        json_frames.append(
            {
                "file_path": f"./image/{t + 1}",
                "world_mat": world_mat.tolist(),
                "expression": expression.tolist(),
                "pose": pose.tolist(),
                "bbox": [-0.5, -0.5, 0.5, 0.5],
                "flame_keypoints": [[0.0, 0.0]] * 68,
            }
        )
        truth.cameras[("0", t)] = (w2c, k, WIDTH, HEIGHT)
        truth.splits[("0", t)] = "test" if t >= frames - n_test else "train"
        truth.params[t] = {
            "shape": shape,
            "expr": expression,
            "rotation": pose[:3],
            "neck_pose": pose[3:6],
            "jaw_pose": pose[6:9],
            "eyes_pose": pose[9:],
            "translation": np.zeros(3),
        }
    data = {
        "frames": json_frames,
        "intrinsics": [-k[0, 0] / WIDTH, k[1, 1] / HEIGHT, k[0, 2] / WIDTH, k[1, 2] / HEIGHT],
        "shape_params": shape.tolist(),
    }
    (root / "flame_params.json").write_text(json.dumps(data))
    return truth


# ----------------------------------------------------------------------------- Gaussian Head Avatar


def write_gaussian_head_avatar(
    root: Path, frames: int = 3, cameras: int = 3, fit: str = "BFM", scale: float = 1.0
) -> Truth:
    """images/{frame:04d}/image_{cam}.jpg, cameras/{frame:04d}/camera_{cam}.npz, params/... The
    fit's world is ``scale`` times the dataset world (FLAME fits: FLAME metres)."""
    cams = ring_cameras(cameras)
    cam_ids = [f"22{i:07d}" for i in range(cameras)]
    truth = Truth(root, "gaussian_head_avatar", {}, {}, family="FLAME" if fit == "FLAME" else None)
    truth.rig_status = "ok" if fit == "FLAME" else "unsupported"
    n_test = max(1, round(frames * 0.1)) if frames > 1 else 0
    for t in range(frames):
        rng = np.random.default_rng(100 + t)
        for c, (w2c, k) in enumerate(cams):
            folder = f"{t:04d}"
            pixel = _project(w2c, k)
            write_image(root / "images" / folder / f"image_{cam_ids[c]}.jpg", pixel)
            write_mask(root / "images" / folder / f"mask_{cam_ids[c]}.jpg", pixel)
            ext = w2c[:3].copy()
            ext[:, 3] *= scale
            (root / "cameras" / folder).mkdir(parents=True, exist_ok=True)
            np.savez(root / "cameras" / folder / f"camera_{cam_ids[c]}.npz", extrinsic=ext, intrinsic=k)
            truth.cameras[(cam_ids[c], t)] = (w2c, k, WIDTH, HEIGHT)
            truth.splits[(cam_ids[c], t)] = "test" if t >= frames - n_test else "train"
        (root / "params" / f"{t:04d}").mkdir(parents=True, exist_ok=True)
        if fit == "FLAME":
            exp = rng.normal(0, 0.3, 59)
            pose = np.concatenate([rng.normal(0, 0.2, 3), rng.normal(0, 0.02, 3) * scale])
            np.savez(
                root / "params" / f"{t:04d}" / "params.npz",
                id_coeff=np.linspace(-1, 1, 100)[None],
                exp_coeff=exp[None],
                scale=np.array([[scale]]),
                pose=pose[None],
            )
            truth.params[t] = {"gha_exp": exp, "gha_pose": pose, "gha_scale": np.array(scale)}
        else:
            np.savez(
                root / "params" / f"{t:04d}" / "params.npz",
                id_coeff=rng.normal(0, 1, (1, 80)),
                exp_coeff=rng.normal(0, 1, (1, 64)),
                scale=np.array([0.15]),
                pose=rng.normal(0, 0.1, (1, 6)),
            )
        np.save(root / "params" / f"{t:04d}" / "lmk_3d.npy", np.zeros((66, 3)))
    return truth


# ----------------------------------------------------------------------------- multi-view SMPL-X


def _body_cameras(count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return ring_cameras(count, radius=2.5)


def write_avatarrex(root: Path, frames: int = 4, cameras: int = 3, splits: dict | None = None) -> Truth:
    root.mkdir(parents=True, exist_ok=True)
    cams = _body_cameras(cameras)
    cam_ids = [f"2240{i:04d}" for i in range(cameras)]
    seq = smplx_sequence(frames)
    np.savez(root / "smpl_params.npz", **seq)
    truth = Truth(root, "avatarrex", {}, {}, family="SMPLX")
    calib = {}
    test = set(splits["test_timesteps"]) if splits else {frames - 1}
    val = set(splits["val_cameras"]) if splits else set()
    for c, (w2c, k) in enumerate(cams):
        calib[cam_ids[c]] = {
            "K": k.tolist(),
            "R": w2c[:3, :3].tolist(),
            "T": w2c[:3, 3:].tolist(),  # a column, as OpenCV writes it
            "imgSize": [WIDTH, HEIGHT],
            "distCoeff": [0.0] * 5,
        }
        for t in range(frames):
            pixel = _project(w2c, k)
            write_image(root / cam_ids[c] / f"{t:08d}.jpg", pixel)
            write_mask(root / cam_ids[c] / "mask" / "pha" / f"{t:08d}.jpg", pixel)
            truth.cameras[(cam_ids[c], t)] = (w2c, k, WIDTH, HEIGHT)
            truth.splits[(cam_ids[c], t)] = "test" if t in test else ("val" if cam_ids[c] in val else "train")
    (root / "calibration_full.json").write_text(json.dumps(calib))
    if splits:
        (root / "splits.json").write_text(json.dumps(splits))
    truth.params = {t: smplx_frame(seq, t) for t in range(frames)}
    return truth


def write_thuman4(root: Path, frames: int = 4, cameras: int = 3) -> Truth:
    root.mkdir(parents=True, exist_ok=True)
    cams = _body_cameras(cameras)
    seq = smplx_sequence(frames, seed=3)
    np.savez(root / "smpl_params.npz", **seq)
    truth = Truth(root, "thuman4", {}, {}, family="SMPLX")
    calib = {}
    for c, (w2c, k) in enumerate(cams):
        cam = f"cam{c:02d}"
        calib[cam] = {
            "K": k.reshape(-1).tolist(),  # flat, as some exports store it
            "R": w2c[:3, :3].reshape(-1).tolist(),
            "T": w2c[:3, 3].tolist(),
            "imgSize": [WIDTH, HEIGHT],
        }
        for t in range(frames):
            pixel = _project(w2c, k)
            write_image(root / "images" / cam / f"{t:08d}.jpg", pixel)
            write_mask(root / "masks" / cam / f"{t:08d}.jpg", pixel)
            truth.cameras[(cam, t)] = (w2c, k, WIDTH, HEIGHT)
            truth.splits[(cam, t)] = "test" if t == frames - 1 else "train"
    (root / "calibration.json").write_text(json.dumps(calib))
    truth.params = {t: smplx_frame(seq, t) for t in range(frames)}
    return truth


def write_actorshq(root: Path, frames: int = 4, cameras: int = 3, scale: str = "4x") -> Truth:
    """calibration.csv: camera-to-world as axis-angle + translation, intrinsics / image size."""
    base = root / scale
    base.mkdir(parents=True, exist_ok=True)
    cams = _body_cameras(cameras)
    seq = smplx_sequence(frames, seed=5)
    np.savez(root / "smpl_params.npz", **seq)
    truth = Truth(root, "actorshq", {}, {}, family="SMPLX")
    with (base / "calibration.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "w", "h", "rx", "ry", "rz", "tx", "ty", "tz", "fx", "fy", "px", "py"])
        for c, (w2c, k) in enumerate(cams):
            name = f"Cam{c + 1:03d}"
            c2w = np.linalg.inv(w2c)
            rotvec = Rotation.from_matrix(c2w[:3, :3]).as_rotvec()
            writer.writerow(
                [name, WIDTH, HEIGHT, *rotvec, *c2w[:3, 3]]
                + [k[0, 0] / WIDTH, k[1, 1] / HEIGHT, k[0, 2] / WIDTH, k[1, 2] / HEIGHT]
            )
            for t in range(frames):
                pixel = _project(w2c, k)
                write_image(base / "rgbs" / name / f"{name}_rgb{t:06d}.jpg", pixel)
                write_mask(base / "masks" / name / f"{name}_mask{t:06d}.png", pixel)
                truth.cameras[(name, t)] = (w2c, k, WIDTH, HEIGHT)
                truth.splits[(name, t)] = "test" if t == frames - 1 else "train"
    truth.params = {t: smplx_frame(seq, t) for t in range(frames)}
    return truth


# ----------------------------------------------------------------------------- D-NeRF


def write_dnerf(root: Path, per_split: int = 3) -> Truth:
    """Blender-rendered style: one FoV, centred principal point, RGBA PNGs named without extension."""
    root.mkdir(parents=True, exist_ok=True)
    angle = 0.69
    focal = 0.5 * WIDTH / math.tan(0.5 * angle)
    k = np.array([[focal, 0, (WIDTH - 1) / 2], [0, focal, (HEIGHT - 1) / 2], [0, 0, 1.0]])
    truth = Truth(root, "dnerf", {}, {}, family=None, rig_status="none")
    cams = ring_cameras(3 * per_split, radius=1.2, wobble=False)
    index = 0
    times = np.linspace(0, 1, 3 * per_split)
    for split in ("train", "val", "test"):
        frames = []
        for i in range(per_split):
            w2c, _ = cams[index]
            c2w_gl = np.linalg.inv(w2c) @ np.diag([1.0, -1.0, -1.0, 1.0])
            write_image(root / split / f"r_{i:03d}.png", _project(w2c, k), rgba=True)
            frames.append(
                {"file_path": f"./{split}/r_{i:03d}", "rotation": 0.1, "time": float(times[index]),
                 "transform_matrix": c2w_gl.tolist()}
            )  # fmt: skip
            cam_id = f"{split}/r_{i:03d}"
            truth.cameras[(cam_id, index)] = (w2c, k, WIDTH, HEIGHT)
            truth.splits[(cam_id, index)] = split
            index += 1
        (root / f"transforms_{split}.json").write_text(
            json.dumps({"camera_angle_x": angle, "frames": frames})
        )
    return truth


WRITERS = {
    "gaussian_avatars": write_gaussian_avatars,
    "imavatar": write_imavatar,
    "gaussian_head_avatar": write_gaussian_head_avatar,
    "avatarrex": write_avatarrex,
    "thuman4": write_thuman4,
    "actorshq": write_actorshq,
    "dnerf": write_dnerf,
}


# ----------------------------------------------------------------------------- tiny rigs


def tiny_flame_model(seed: int = 0, n_lon: int = 10, n_lat: int = 6) -> RigModel:
    """A small FLAME-layout rig (5 joints: root, neck, jaw, eyes) on a squashed sphere, with
    random but smooth shape / expression / pose-corrective bases. For tests only."""
    rng = np.random.default_rng(seed)
    lat, lon = np.meshgrid(
        np.linspace(0.15, math.pi - 0.15, n_lat), np.linspace(0, 2 * math.pi, n_lon, endpoint=False)
    )
    verts = np.stack(
        [0.08 * np.sin(lat) * np.cos(lon), 0.11 * np.cos(lat), 0.09 * np.sin(lat) * np.sin(lon)], -1
    ).reshape(-1, 3)
    verts[:, 1] += 0.02
    faces = _grid_faces(n_lon, n_lat)
    joints = np.array(
        [[0, -0.06, -0.01], [0, -0.02, -0.01], [0, -0.03, 0.02], [0.03, 0.04, 0.07], [-0.03, 0.04, 0.07]]
    )
    return _assemble(
        "FLAME", verts, faces, joints, np.array([-1, 0, 1, 1, 1]), FLAME_JOINT_NAMES, rng, 10, 10
    )


SMPLX_PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15]
    + [20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38]
    + [21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53]
)


def tiny_smplx_model(seed: int = 1) -> RigModel:
    """A small SMPL-X-layout rig (55 joints in SMPL-X order) with four vertices around each joint."""
    rng = np.random.default_rng(seed)
    body = {
        0: (0, 0.95, 0), 1: (0.09, 0.87, 0), 2: (-0.09, 0.87, 0), 3: (0, 1.05, 0), 4: (0.1, 0.5, 0),
        5: (-0.1, 0.5, 0), 6: (0, 1.18, 0), 7: (0.1, 0.08, 0), 8: (-0.1, 0.08, 0), 9: (0, 1.3, 0),
        10: (0.11, 0.02, 0.1), 11: (-0.11, 0.02, 0.1), 12: (0, 1.5, 0), 13: (0.07, 1.42, 0),
        14: (-0.07, 1.42, 0), 15: (0, 1.6, 0.02), 16: (0.18, 1.42, 0), 17: (-0.18, 1.42, 0),
        18: (0.45, 1.42, 0), 19: (-0.45, 1.42, 0), 20: (0.7, 1.42, 0), 21: (-0.7, 1.42, 0),
        22: (0, 1.58, 0.06), 23: (0.03, 1.65, 0.08), 24: (-0.03, 1.65, 0.08),
    }  # fmt: skip
    joints = np.zeros((55, 3))
    for j, pos in body.items():
        joints[j] = pos
    for j in range(25, 55):
        parent = SMPLX_PARENTS[j]
        side = 1.0 if j < 40 else -1.0
        finger = ((j - 25) % 15) // 3
        joints[j] = joints[parent] + np.array([side * 0.03, 0.0, 0.015 * (finger - 2)])
    offsets = np.array([[0.02, 0.0, 0.0], [-0.01, 0.02, 0.0], [-0.01, -0.01, 0.02], [-0.01, -0.01, -0.02]])
    verts = (joints[:, None, :] + offsets[None]).reshape(-1, 3)
    faces = np.concatenate(
        [np.array([[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2]]) + 4 * j for j in range(55)]
    )
    return _assemble("SMPLX", verts, faces, joints, SMPLX_PARENTS, SMPLX_JOINT_NAMES, rng, 10, 10)


def _grid_faces(n_lon: int, n_lat: int) -> np.ndarray:
    faces = []
    for i in range(n_lon):
        for j in range(n_lat - 1):
            a, b = i * n_lat + j, ((i + 1) % n_lon) * n_lat + j
            faces += [[a, b, a + 1], [b, b + 1, a + 1]]
    return np.array(faces, dtype=np.int32)


def _assemble(
    family: str, verts: np.ndarray, faces: np.ndarray, joints: np.ndarray, parents: np.ndarray,
    names: tuple[str, ...], rng: np.random.Generator, n_shape: int, n_expr: int,
) -> RigModel:  # fmt: skip
    num_v, num_j = len(verts), len(joints)
    dist = np.linalg.norm(verts[:, None] - joints[None], axis=-1)
    weights = np.exp(-((dist / 0.03) ** 2))
    weights[np.arange(num_v), dist.argmin(1)] += 1.0
    weights /= weights.sum(1, keepdims=True)
    # Each joint regressed as the mean of its four nearest vertices.
    regressor = np.zeros((num_j, num_v))
    for j in range(num_j):
        regressor[j, np.argsort(dist[:, j])[:4]] = 0.25
    template = np.asarray(verts, dtype=np.float64)

    def smooth(n: int) -> np.ndarray:
        freq = rng.uniform(5, 20, (1, 3, n))
        return 0.01 * np.sin(template[:, :, None] * freq + rng.uniform(0, 6, (1, 3, n)))

    return RigModel(
        family=family,  # type: ignore[arg-type]
        v_template=template,
        faces=np.asarray(faces, dtype=np.int32),
        shape_dirs=smooth(n_shape),
        expr_dirs=smooth(n_expr),
        pose_dirs=0.002 * rng.normal(size=(num_v, 3, 9 * (num_j - 1))),
        joint_regressor=regressor,
        weights=weights,
        parents=np.asarray(parents, dtype=np.int64),
        joint_names=tuple(names),
        source_name=f"tiny-{family.lower()}",
    )


def posed_vertices(model: RigModel, params: dict[str, np.ndarray]) -> np.ndarray:
    """The numpy forward of one frame of dataset parameters (FLAME or SMPL-X keys)."""
    from engine.rig.lbs import forward

    if model.family == "FLAME":
        keys = ("rotation", "neck_pose", "jaw_pose", "eyes_pose")
        pose = np.concatenate([params[k] for k in keys])
        offsets = params.get("static_offset")
        if offsets is not None and offsets.shape[0] != model.num_vertices:
            offsets = None
        return forward(model, params["shape"], params["expr"], pose, params["translation"], offsets).vertices
    eyes = np.concatenate([params.get("leye_pose", np.zeros(3)), params.get("reye_pose", np.zeros(3))])
    pose = np.concatenate(
        [params["global_orient"], params["body_pose"], params.get("jaw_pose", np.zeros(3)), eyes,
         params["left_hand_pose"], params["right_hand_pose"]]
    )  # fmt: skip
    return forward(model, params["betas"], params.get("expression"), pose, params["transl"]).vertices
