"""A tiny head rig and a tiny multi-view dataset rendered from a known avatar, for trainer tests.

``write_head_model`` stores a FLAME-layout rig (5 joints, 10 expressions) on an egg-shaped UV
sphere as a plain FLAME-style pickle. ``write_head_dataset`` poses it with random expressions and
jaw/neck rotations, binds a colourful ground-truth avatar to it, renders every camera with the
pure-torch reference rasterizer, and writes the GaussianAvatars layout (transforms_*.json with
OpenGL camera-to-world, images, fg_masks, flame_param/*.npz, canonical_flame_param.npz).
No licensed data: everything is generated.
"""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import torch
from PIL import Image

NUM_SHAPE = 300  # FLAME layout: shapedirs = 300 shape + E expression components
NUM_EXPR = 10


def uv_sphere(rings: int, segments: int) -> tuple[np.ndarray, np.ndarray]:
    verts = [(0.0, 1.0, 0.0)]
    for i in range(1, rings):
        theta = math.pi * i / rings
        for j in range(segments):
            phi = 2 * math.pi * j / segments
            verts.append((math.sin(theta) * math.sin(phi), math.cos(theta), math.sin(theta) * math.cos(phi)))
    verts.append((0.0, -1.0, 0.0))
    faces = []
    for j in range(segments):
        faces.append((0, 1 + (j + 1) % segments, 1 + j))
    for i in range(rings - 2):
        row, nxt = 1 + i * segments, 1 + (i + 1) * segments
        for j in range(segments):
            a, b = row + j, row + (j + 1) % segments
            c, d = nxt + j, nxt + (j + 1) % segments
            faces += [(a, b, c), (b, d, c)]
    last, south = 1 + (rings - 2) * segments, len(verts) - 1
    for j in range(segments):
        faces.append((last + j, last + (j + 1) % segments, south))
    return np.array(verts), np.array(faces, dtype=np.int64)


def head_model_arrays(seed: int = 0, rings: int = 8, segments: int = 12) -> dict:
    """FLAME-format model dictionary (official keys) of an egg-shaped head."""
    rng = np.random.default_rng(seed)
    unit, faces = uv_sphere(rings, segments)
    verts = unit * np.array([0.075, 0.1, 0.085])
    nv = len(verts)
    joints = np.array(
        [[0, -0.1, -0.01], [0, -0.07, -0.01], [0, -0.03, 0.02], [0.03, 0.03, 0.07], [-0.03, 0.03, 0.07]]
    )
    dist = np.linalg.norm(verts[:, None] - joints[None], axis=-1)
    weights = np.exp(-((dist / 0.04) ** 2))
    weights[:, 0] += 0.2
    weights /= weights.sum(1, keepdims=True)
    regressor = np.zeros((5, nv))
    for j in range(5):
        regressor[j, np.argsort(dist[:, j])[:4]] = 0.25
    shapedirs = np.zeros((nv, 3, NUM_SHAPE + NUM_EXPR))
    for k in range(3):  # a few identity components
        shapedirs[:, :, k] = 0.004 * np.sin(verts * rng.uniform(10, 30, 3) + rng.uniform(0, 6, 3))
    for k in range(NUM_EXPR):  # smooth expression modes, strongest on the lower face
        weight = np.clip(0.5 - verts[:, 1:2] / 0.1, 0.2, 1.5)
        shapedirs[:, :, NUM_SHAPE + k] = (
            0.006 * weight * np.sin(verts * rng.uniform(15, 40, 3) + rng.uniform(0, 6, 3))
        )
    posedirs = 0.001 * rng.normal(size=(nv, 3, 36))
    kintree = np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64)
    return {
        "v_template": verts,
        "f": faces.astype(np.uint32),
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": kintree,
    }


def write_head_model(folder: Path, name: str = "tiny_head_flame.pkl", seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open("wb") as f:
        pickle.dump(head_model_arrays(seed), f, protocol=2)
    return path


def look_at_cv(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    w2c = np.eye(4)
    w2c[:3, :3] = np.stack([right, down, forward])
    w2c[:3, 3] = -w2c[:3, :3] @ eye
    return w2c


def frame_params(
    rng: np.random.Generator, num_vertices: int, num_expression: int = NUM_EXPR, activations: bool = False
) -> dict[str, np.ndarray]:
    """Random tracked parameters of one timestep. ``activations``: expressions as a few
    coefficients in [0, 0.8] (ARKit-style rigs such as the stand-in), else N(0, 0.8) (FLAME-style)."""
    if activations:
        expr = np.zeros(num_expression)
        active = rng.choice(num_expression, size=min(4, num_expression), replace=False)
        expr[active] = rng.uniform(0.0, 0.8, active.shape[0])
    else:
        expr = rng.normal(0, 0.8, num_expression)
    return {
        "shape": np.concatenate([[0.5, -0.3, 0.2], np.zeros(NUM_SHAPE - 3)]),
        "expr": expr,
        "rotation": rng.normal(0, 0.05, 3),
        "neck_pose": rng.normal(0, 0.05, 3),
        "jaw_pose": np.array([abs(rng.normal(0, 0.15)), 0.0, 0.0]),
        "eyes_pose": rng.normal(0, 0.05, 6),
        "translation": rng.normal(0, 0.005, 3),
        "static_offset": np.full((num_vertices, 3), 0.001),
    }


def ground_truth_avatar(model, device: torch.device, seed: int = 0, per_face: int = 2, detail: float = 1.0):
    """A colourful opaque avatar on the rest mesh, with dynamics: the colour of the lower face
    follows the first expression coefficients and the jaw, so a static avatar cannot match every
    frame (what the trainer's dynamic blendshapes are for). ``detail`` raises the pattern's
    frequencies (for high resolutions)."""
    from training.gaussians.binding_torch import bind, face_frames
    from training.model.gaussians import GaussianSet
    from training.posing import RigPoser

    poser = RigPoser(model, np.zeros(model.num_shape), None, device)
    rest = poser.rest_mesh()
    gen = torch.Generator().manual_seed(seed)
    features = min(4, model.num_expression) + model.num_pose_features
    gs = GaussianSet.on_surface(
        rest, poser.faces, per_face * poser.num_faces, 0, 2, features, gen, device, init_opacity=0.95
    )
    p = gs.params
    means, _, _ = bind(
        face_frames(rest, poser.faces), gs.parent_face, p["offset"], p["rotation"], p["log_scale"]
    )
    means = means.detach()
    freq = torch.tensor([70.0, 55.0, 90.0], device=device) * detail
    with torch.no_grad():
        colour = 0.5 + 0.3 * torch.sin(means * freq + torch.tensor([0.0, 2.0, 4.0], device=device))
        colour += 0.15 * torch.sin(means * 3.1 * freq.flip(0) + 1.0)
        p["sh_dc"].copy_(((colour.clamp(0.02, 0.98) - 0.5) / 0.28209479177387814)[:, None, :])
        p["log_scale"].add_(0.3)
        lower = torch.sigmoid((-means[:, 1:2] - 0.02) / 0.01)  # below the mouth line
        p["dyn_basis"].zero_()
        p["dyn_basis"][:, 0, 11:14] = 0.6 * lower * torch.tensor([1.0, -0.5, -0.5], device=device)
        p["dyn_basis"][:, 1, 11:14] = 0.6 * lower * torch.tensor([-0.3, 0.6, -0.3], device=device)
        mix = torch.zeros(2, features, device=device)
        mix[0, 0], mix[1, 1] = 0.5, 0.5
        mix[0, min(4, model.num_expression) + 9 : min(4, model.num_expression) + 18] = 2.0  # jaw features
        p["dyn_mix"].copy_(mix)
    gs.requires_grad_(False)
    return gs, min(4, model.num_expression)


def write_head_dataset(
    root: Path,
    model_path: Path,
    size: int = 32,
    cameras: int = 5,
    timesteps: int = 6,
    val_camera: int = 4,
    test_timesteps: tuple[int, ...] = (5,),
    seed: int = 0,
    device: str = "cpu",
    backend: str = "reference",
    per_face: int = 2,
    detail: float = 1.0,
) -> Path:
    """Render the ground-truth avatar with the reference rasterizer into the GaussianAvatars layout."""
    from engine.rig.loaders import load_model
    from engine.rig.params import params_from_dict
    from training.model.tracking import FrameInputs
    from training.posing import RigPoser
    from training.rendering import Renderer, render_avatar

    dev = torch.device(device)
    model = load_model(model_path)
    rng = np.random.default_rng(seed)
    gt, num_dyn = ground_truth_avatar(model, dev, seed, per_face, detail)
    background = (1.0, 1.0, 1.0)
    renderer = Renderer(backend, background, dev)
    root.mkdir(parents=True, exist_ok=True)
    (root / "flame_param").mkdir(exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    (root / "fg_masks").mkdir(exist_ok=True)
    # Cameras look at the rest mesh's box centre from 4.75 half-extents: it fills about 80 % of the image.
    rest = model.v_template
    target = (rest.min(0) + rest.max(0)) / 2
    distance = 4.75 * float((rest.max(0) - rest.min(0)).max() / 2)
    focal = 1.9 * size
    K = np.array([[focal, 0, (size - 1) / 2], [0, focal, (size - 1) / 2], [0, 0, 1.0]])  # noqa: N806
    cams = []
    train_cams = [c for c in range(cameras) if c != val_camera]
    for c in range(cameras):
        # Training cameras spread over +-75 degrees at three heights; the held-out one in between.
        if c == val_camera:
            angle, height = math.radians(12.0), 0.02
        else:
            i = train_cams.index(c)
            angle = math.radians(-75 + 150 * i / max(1, len(train_cams) - 1))
            height = 0.08 * ((i % 3) - 1)
        eye = target + distance * np.array([math.sin(angle), height / 0.5, math.cos(angle)])
        cams.append(look_at_cv(eye, target))
    files: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    arkit = bool(model.expression_names)  # the stand-ins name their (ARKit-style) expressions
    all_params = {
        t: frame_params(rng, model.num_vertices, model.num_expression, activations=arkit)
        for t in range(timesteps)
    }
    for t, params in all_params.items():
        np.savez(
            root / "flame_param" / f"{t:05d}.npz",
            **{k: (v if k == "shape" else v[None]) for k, v in params.items()},
        )
        rp = params_from_dict(model, params)
        poser = RigPoser(model, rp.betas, rp.vertex_offsets[0], dev)
        inputs = FrameInputs(
            *(
                torch.as_tensor(a[0], dtype=torch.float32, device=dev)
                for a in (rp.expression, rp.pose, rp.transl)
            )
        )
        viewmats = torch.as_tensor(np.stack(cams), dtype=torch.float32, device=dev)
        ks = torch.as_tensor(np.stack([K] * cameras), dtype=torch.float32, device=dev)
        with torch.no_grad():
            _, image, alpha, _ = render_avatar(
                poser, gt, num_dyn, renderer, inputs, viewmats, ks, size, size, 0
            )
        image, alpha = image.cpu(), alpha.cpu()
        for c in range(cameras):
            split = "test" if t in test_timesteps else ("val" if c == val_camera else "train")
            name = f"images/{t:05d}_{c:02d}.png"
            mask = f"fg_masks/{t:05d}_{c:02d}.png"
            Image.fromarray((image[c].clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)).save(root / name)
            Image.fromarray((alpha[c, ..., 0].clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)).save(
                root / mask
            )
            c2w = np.linalg.inv(cams[c])
            c2w[:3, 1:3] *= -1.0  # OpenCV -> OpenGL camera axes
            files[split].append(
                {
                    "timestep_index": t,
                    "camera_index": c,
                    "camera_id": f"cam{c:02d}",
                    "cx": K[0, 2], "cy": K[1, 2], "fl_x": K[0, 0], "fl_y": K[1, 1], "h": size, "w": size,
                    "transform_matrix": c2w.tolist(),
                    "file_path": name,
                    "fg_mask_path": mask,
                    "flame_param_path": f"flame_param/{t:05d}.npz",
                }
            )  # fmt: skip
    for split, frames in files.items():
        top = {
            "camera_indices": sorted({f["camera_index"] for f in frames}),
            "timestep_indices": sorted({f["timestep_index"] for f in frames}),
            "background_color": list(background),
            "frames": frames,
        }
        (root / f"transforms_{split}.json").write_text(json.dumps(top, indent=1))
    np.savez(root / "canonical_flame_param.npz", **{k: v[None] for k, v in all_params[0].items()})
    return root


def tiny_head(root: Path) -> tuple[Path, Path]:
    """(model, dataset) of the 16 px generated head the trainer's command-line tests train on."""
    model = write_head_model(root / "model")
    return model, write_head_dataset(root / "data", model, size=16)
