"""Unit tests of the trainer's parts: density control, losses, sampler, surface init, intrinsics, the
held-out frames evaluated."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fixtures import dataset as fx
from tests.fixtures.trainer import uv_sphere
from training.config import TrainConfig, exp_decay, progress, sh_degree_at
from training.data.cache import scale_intrinsics
from training.data.sampler import FrameSampler
from training.data.scene import load_dataset, split_data, spread_frames
from training.loop.densify import DensityControl, first_per_group
from training.loop.losses import photometric_loss, psnr, ssim
from training.loop.optim import build_adam
from training.model.face_gaussians import GaussianSet


def _mesh() -> tuple[torch.Tensor, torch.Tensor]:
    v, f = uv_sphere(6, 8)
    return torch.as_tensor(v * 0.1, dtype=torch.float32), torch.as_tensor(f)


def _model(count: int = 200, rank: int = 2) -> GaussianSet:
    v, f = _mesh()
    return GaussianSet.on_surface(v, f, count, 2, rank, 7, torch.Generator().manual_seed(0))


def _step(model: GaussianSet, opt: torch.optim.Optimizer) -> None:
    loss = sum((p.float() ** 2).sum() for p in model.params.values())
    loss.backward()
    opt.step()
    opt.zero_grad()


def _lrs(model: GaussianSet) -> dict[str, float]:
    return {k: 1e-3 for k in model.params}


def test_surface_init_covers_every_face_inside_the_triangles():
    v, f = _mesh()
    model = GaussianSet.on_surface(v, f, 3 * f.shape[0], 1, 0, 0, torch.Generator().manual_seed(1))
    assert model.num_gaussians == 3 * f.shape[0]
    assert int(model.faces_in_use().min()) >= 1
    # Points lie in their face's plane (z = 0 in the face frame) and within a face size of the centroid.
    offset = model.params["offset"].detach()
    assert offset[:, 2].abs().max() < 1e-5
    assert offset.norm(dim=-1).max() < 1.0
    # Fewer points than faces: no face twice, chosen by area.
    few = GaussianSet.on_surface(v, f, 10, 0, 0, 0, torch.Generator().manual_seed(1))
    assert few.num_gaussians == 10 and int(few.faces_in_use().max()) == 1


def test_clone_and_split_keep_parent_faces_and_the_cap():
    model = _model(200)
    opt = build_adam(dict(model.params), _lrs(model))
    _step(model, opt)
    cfg = TrainConfig(max_gaussians=260, grad_threshold=0.1, densify_from=0, densify_until=1, densify_every=1)
    cfg.prune_opacity = 0.0
    control = DensityControl(cfg, model.num_gaussians, torch.device("cpu"), seed=0)
    with torch.no_grad():  # half the Gaussians big enough to split
        model.params["log_scale"][::2] = math.log(2.0)
    parents_before = model.parent_face.clone()
    offsets_before = model.params["offset"].detach().clone()
    grads = torch.linspace(0, 1, model.num_gaussians)
    control.accumulate(grads, torch.ones(model.num_gaussians))
    report = control.step(model, opt, iteration=1, p=0.5)
    assert report is not None and report["cloned"] + report["split"] == 60  # capped at 260
    assert model.num_gaussians == 260
    # Originals keep their face; every new one copies the face of the Gaussian it came from.
    assert torch.equal(model.parent_face[:200], parents_before)
    # Clones sit exactly on their source; split halves are 1.6 times smaller.
    n_clone = report["cloned"]
    clone_src = [i for i in torch.argsort(grads, descending=True)[:60].tolist() if i % 2 == 1]
    assert n_clone == len(clone_src)
    assert torch.allclose(
        model.params["offset"][200 : 200 + n_clone].detach(), offsets_before[sorted(clone_src)]
    )
    split_new = model.params["log_scale"][200 + n_clone :].detach()
    assert torch.allclose(split_new, torch.full_like(split_new, math.log(2.0) - math.log(1.6)))
    # Optimizer state follows the parameters, and the next step runs.
    for p in model.params.values():
        assert opt.state[p]["exp_avg"].shape == p.shape
    _step(model, opt)


def test_pruning_never_empties_a_face():
    model = _model(300)
    opt = build_adam(dict(model.params), _lrs(model))
    cfg = TrainConfig(prune_opacity=0.5, grad_threshold=1e9, densify_from=0, densify_until=1, densify_every=1)
    control = DensityControl(cfg, model.num_gaussians, torch.device("cpu"), seed=0)
    faces_before = model.faces_in_use() > 0
    with torch.no_grad():  # all transparent: everything is a pruning candidate
        model.params["opacity"].copy_(torch.linspace(-6, -3, model.num_gaussians))
    control.accumulate(torch.zeros(model.num_gaussians), torch.ones(model.num_gaussians))
    report = control.step(model, opt, iteration=1, p=0.5)
    assert report is not None and report["pruned"] > 0
    assert torch.equal(model.faces_in_use() > 0, faces_before)
    assert int(model.faces_in_use().max()) == 1
    # The survivor of each face is its most opaque Gaussian.
    keys = torch.tensor([3, 1, 3, 1, 2])
    prio = torch.tensor([0.1, 0.5, 0.9, 0.2, 0.0])
    assert sorted(first_per_group(keys, prio).tolist()) == [1, 2, 4]


def test_opacity_reset_caps_opacity_and_clears_its_moments():
    model = _model(50)
    opt = build_adam(dict(model.params), _lrs(model))
    with torch.no_grad():
        model.params["opacity"].fill_(3.0)
    _step(model, opt)
    cfg = TrainConfig(opacity_reset_every=0.25, densify_until=0.9, densify_from=0.95)
    control = DensityControl(cfg, model.num_gaussians, torch.device("cpu"), seed=0)
    assert control.step(model, opt, iteration=9, p=0.24) is None
    report = control.step(model, opt, iteration=10, p=0.26)
    assert control.step(model, opt, iteration=11, p=0.27) is None  # once per slot
    assert report == {"cloned": 0, "split": 0, "pruned": 0, "reset": 1}
    assert torch.sigmoid(model.params["opacity"]).max() <= 0.0100001
    assert float(opt.state[model.params["opacity"]]["exp_avg"].abs().max()) == 0.0


def test_losses_and_metrics():
    gen = torch.Generator().manual_seed(0)
    img = torch.rand(2, 24, 20, 3, generator=gen)
    assert torch.allclose(ssim(img, img), torch.ones(2))
    noisy = (img + 0.1 * torch.randn(img.shape, generator=gen)).clamp(0, 1)
    assert float(ssim(noisy, img).max()) < 0.99
    mse = float(((noisy - img) ** 2).mean(dim=(1, 2, 3))[0])
    assert float(psnr(noisy, img)[0]) == pytest.approx(-10 * math.log10(mse), rel=1e-5)
    pred = noisy.clone().requires_grad_(True)
    loss, parts = photometric_loss(pred, img, 0.2)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    assert float(loss.detach()) == pytest.approx(
        0.8 * float(parts["l1"]) + 0.2 * float(parts["dssim"]), rel=1e-5
    )


def test_sampler_resumes_exactly():
    a = FrameSampler(7, seed=3)
    first = a.next(10)
    state = a.state_dict()
    rest = a.next(20)
    b = FrameSampler(7, seed=99)
    b.load_state_dict(state)
    assert b.next(20) == rest
    assert sorted(first[:7]) == list(range(7))  # each epoch is a permutation


def test_schedules():
    assert progress(50, 100) == 0.5
    assert progress(10, 100, elapsed=30, time_budget=60) == 0.5
    assert exp_decay(1e-2, 1e-4, 0.5) == pytest.approx(1e-3)
    assert [sh_degree_at(p, 3, 0.1) for p in (0.0, 0.15, 0.25, 0.9)] == [0, 1, 2, 3]


def test_scaled_intrinsics_keep_pixel_centres():
    k = np.array([[100.0, 0, 31.5], [0, 90.0, 23.5], [0, 0, 1]])
    k2 = scale_intrinsics(k, 64, 48, 32, 24)
    # A point seen at pixel (u, v) of the full image lies at ((u + 0.5) / 2 - 0.5, ...) in the half one.
    point = np.array([0.1, -0.05, 1.0])
    u, v = (k @ point)[:2]
    u2, v2 = (k2 @ point)[:2]
    assert u2 == pytest.approx((u + 0.5) / 2 - 0.5) and v2 == pytest.approx((v + 0.5) / 2 - 0.5)


def test_bind_world_takes_a_leading_frame_axis():
    from training.model.posing import bind_world

    v, f = _mesh()
    model = _model(120, rank=2)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in model.params.values():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    frames = v[None] + 0.01 * torch.randn(3, *v.shape, generator=gen)
    features = torch.randn(3, 7, generator=gen)
    both = bind_world(model.params, model.parent_face, frames, f, features, 2)
    for b in range(3):
        one = bind_world(model.params, model.parent_face, frames[b], f, features[b], 2)
        for name in ("means", "quats", "scales", "opacities", "sh"):
            assert torch.allclose(getattr(both, name)[b], getattr(one, name), atol=1e-6), name


def test_several_val_cameras_are_read_and_all_evaluated(tmp_path: Path) -> None:
    # 3 held-out cameras x 31 timesteps: a plain stride of 93/31 = 3 would land on one camera's
    # frames almost every time (the frames are listed timestep by timestep).
    fx.write_gaussian_avatars(tmp_path, cameras=6, timesteps=32, val_camera=(1, 3, 4), test_timesteps=(31,))
    dataset = load_dataset(str(tmp_path), "flame")
    val = dataset.split("val")
    ids = sorted({f.camera_id for f in val})
    assert len(ids) == 3 and len(val) == 3 * 31
    data = split_data(dataset, "val", 1.0, torch.device("cpu"), (1.0, 1.0, 1.0), load_images=False, limit=31)
    per_camera = {c: sorted(f.timestep for f in data.frames if f.camera_id == c) for c in ids}
    assert sorted(len(v) for v in per_camera.values()) == [10, 10, 11]
    for steps in per_camera.values():  # each camera's share spans the performance
        assert steps[0] <= 3 and steps[-1] >= 27
    assert [f.image_path for f in data.frames] == [
        f.image_path for f in val if f in data.frames
    ]  # split order


def test_one_camera_keeps_the_even_stride(tmp_path: Path) -> None:
    # A split of one camera (every dataset before several held-out cameras) keeps its subset.
    fx.write_gaussian_avatars(tmp_path, cameras=3, timesteps=40, val_camera=2, test_timesteps=(39,))
    val = load_dataset(str(tmp_path), "flame").split("val")
    stride = sorted(set(np.linspace(0, len(val) - 1, 12).round().astype(int).tolist()))
    assert spread_frames(val, 12) == [val[i] for i in stride]
    assert spread_frames(val, 0) == val and spread_frames(val, 100) == val
