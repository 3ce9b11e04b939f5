"""Parts of the 4D trainer (training/fourd): the deformation field starts as the identity and
moves Gaussians once trained, its codes interpolate in time, density control keeps the optimizer's
state in step, and baking picks the frames asked for."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from training.fourd.bake import field_frames, frame_times
from training.fourd.config import PRESETS, FourDConfig
from training.fourd.densify import WorldDensity
from training.fourd.field import DeformationField
from training.fourd.init import initial_gaussians, neighbour_spacing
from training.fourd.model import GAUSSIAN_NAMES, SequenceModel
from training.fourd.motion import matched_motion, spin_of
from training.loop.optim import build_adam


def _model(code: int = 0, count: int = 50) -> SequenceModel:
    cfg = FourDConfig.from_dict({**PRESETS["tiny"], "frame_code": code, "sh_degree": 1})
    g = torch.Generator().manual_seed(0)
    points = torch.rand(count, 3, generator=g)
    gaussians = initial_gaussians(points, torch.rand(count, 3, generator=g), cfg.sh_degree)
    return SequenceModel.build(cfg, gaussians, torch.tensor([[0.0, 0, 0], [1.0, 1, 1]]), 10, g)


def test_the_field_starts_as_the_identity_and_learns_motion() -> None:
    model = _model()
    canonical = model.at_time(0.3, 1, deform=False)
    moved = model.at_time(0.3, 1)
    torch.testing.assert_close(moved.means, canonical.means)
    torch.testing.assert_close(moved.quats, canonical.quats)
    assert float(model.field.smoothness().detach()) == 0.0  # space-time planes start flat in time
    # A few steps pulling every Gaussian 0.1 along x at t = 0.7 only.
    optimizer = torch.optim.Adam(model.field.parameters(), lr=2e-2)
    for _ in range(60):
        optimizer.zero_grad()
        shift = model.at_time(0.7, 1).means - canonical.means.detach()
        (shift - torch.tensor([0.1, 0.0, 0.0])).pow(2).mean().backward()
        optimizer.step()
    with torch.no_grad():
        at_07 = (model.at_time(0.7, 1).means - canonical.means).mean(0)
    assert at_07[0] == pytest.approx(0.1, abs=0.02) and at_07[1:].abs().max() < 0.02


def test_frame_codes_interpolate_in_time() -> None:
    field = _model(code=3).field
    assert field.codes is not None
    with torch.no_grad():
        field.codes.copy_(torch.arange(field.codes.numel(), dtype=torch.float32).view_as(field.codes))
    cells = field.time_resolution - 1
    half = (field.codes[2] + field.codes[3]) / 2
    torch.testing.assert_close(field.code_at(2.5 / cells)[0], half)
    torch.testing.assert_close(field.code_at(1.0)[0], field.codes[-1])
    assert isinstance(field, DeformationField)


def test_density_control_keeps_the_optimizer_in_step() -> None:
    model = _model(count=40)
    cfg = FourDConfig.from_dict({**PRESETS["tiny"], "densify_from": 0.0, "max_gaussians": 60})
    optimizer = build_adam(dict(model.params), {n: 1e-3 for n in GAUSSIAN_NAMES})
    w = model.at_time(0.0, 1)
    (w.means.sum() + w.quats.sum() + w.scales.sum() + w.opacities.sum() + w.sh.sum()).backward()
    optimizer.step()
    density = WorldDensity(cfg, 40, extent=1.0, device=torch.device("cpu"), seed=0)
    density.accumulate(torch.linspace(0, 1e-3, 40), torch.ones(40))
    with torch.no_grad():
        model.params["opacity"][:5] = -20.0  # transparent at every time: pruned
    peak = lambda: torch.sigmoid(model.params["opacity"].detach())  # noqa: E731
    report = density.step(model, optimizer, cfg.densify_every, 0.5, peak)
    assert report is not None and report["pruned"] == 5 and report["cloned"] + report["split"] > 0
    assert model.num_gaussians == 40 + report["cloned"] + report["split"] - 5 <= 60
    for name in GAUSSIAN_NAMES:
        param = model.params[name]
        state = optimizer.state[param]
        assert state["exp_avg"].shape == param.shape
        assert any(param is p for group in optimizer.param_groups for p in group["params"])


def test_an_opacity_reset_caps_what_each_gaussian_shows_not_its_logit() -> None:
    """The field hides every Gaussian by -10 (logit) and the logits make up for it: a reset must
    leave each at about 1 % where it shows most, not at 1e-6 where no gradient can revive it."""
    model = _model(count=30)
    cfg = FourDConfig.from_dict({**PRESETS["tiny"], "opacity_reset_every": 0.2, "densify_from": 0.9})
    optimizer = build_adam(dict(model.params), {n: 1e-3 for n in GAUSSIAN_NAMES})
    with torch.no_grad():
        model.field.heads["opacity"][-1].bias.fill_(-10.0)
        model.params["opacity"][:10] = 10.0  # shows 0.5: reset to 0.01
        model.params["opacity"][10:20] = 13.0  # shows 0.95: reset to 0.01
        model.params["opacity"][20:] = 5.0  # shows 0.007: left alone
    times = [k / 9 for k in range(10)]

    def peak() -> torch.Tensor:
        with torch.no_grad():
            return torch.stack([model.at_time(t, 0).opacities for t in times]).amax(0)

    before = peak()
    density = WorldDensity(cfg, 30, extent=1.0, device=torch.device("cpu"), seed=0)
    report = density.step(model, optimizer, 1, 0.25, peak)
    assert report is not None and report["reset"] == 1
    after = peak()
    torch.testing.assert_close(after[:20], torch.full((20,), 0.01), rtol=0.05, atol=0.0)
    torch.testing.assert_close(after[20:], before[20:])


def test_a_gaussian_stays_visible_half_way_to_the_neighbouring_training_times() -> None:
    """Training at 0, 0.2, 0.6 and 1 (0.4 held out): bumps trained narrow still keep exp(-1/2)
    of their opacity half-way to the next training time on each side, however far it is; past
    the last training time, and with no training times set, the bump is its own."""
    model = _model(count=4)
    with torch.no_grad():
        model.params["time_centre"].copy_(torch.tensor([0.0, 0.2, 0.6, 1.0]))
        model.params["time_log_width"].fill_(math.log(0.01))
        model.params["opacity"].fill_(10.0)

    def shown(time: float) -> torch.Tensor:
        with torch.no_grad():
            return model.at_time(time, 0).opacities

    assert float(shown(0.4)[1:3].max()) < 1e-6  # narrow bumps: nothing shows at the held-out time
    model.set_training_times([0.0, 0.2, 0.6, 1.0, 0.2])
    floor = math.exp(-0.5) * torch.sigmoid(torch.tensor(10.0))
    half_way = {0.1: (0, 1), 0.4: (1, 2), 0.8: (2, 3)}  # time: the two Gaussians either side
    for time, pair in half_way.items():
        torch.testing.assert_close(shown(time)[list(pair)], floor.repeat(2), rtol=1e-4, atol=0.0)
    # The floor is per side: at 0.1 from its centre, 0.2's bump is exp(-1/2) towards 0 (gap 0.2,
    # width 0.1) but exp(-1/8) towards 0.6 (gap 0.4, width 0.2).
    torch.testing.assert_close(shown(0.3)[1], math.exp(-0.125) / math.exp(-0.5) * floor, rtol=1e-4, atol=0.0)
    assert float(shown(1.0 + 0.1)[3]) < 1e-6 and float(shown(-0.1)[0]) < 1e-6  # no neighbour: own width
    model.gap_width = 0.0
    assert float(shown(0.4)[1:3].max()) < 1e-6


def test_bake_frames_and_neighbour_spacing() -> None:
    times, fps = frame_times([0.0, 0.5, 1.0], 24.0, 0.0)
    assert times == [0.0, 0.5, 1.0] and fps == 24.0
    times, fps = frame_times([i / 48 for i in range(49)], 24.0, 12.0)  # 2 s at 12 fps
    assert fps == 12.0 and len(times) == 25 and times[-1] == 1.0
    grid = torch.stack(torch.meshgrid(*[torch.arange(4.0)] * 3, indexing="ij"), -1).reshape(-1, 3)
    spacing = neighbour_spacing(grid * 0.1)
    assert float(spacing.min()) == pytest.approx(0.1) and float(spacing.max()) == pytest.approx(0.1)
    assert not math.isnan(float(spacing.mean()))


def _two_poses(offset: float, count: int = 200) -> SequenceModel:
    """A ball of Gaussians at home at time 0 and the same ball ``offset`` along x at time 1,
    farther than its own diameter (0.2): their footprints never overlap."""
    g = torch.Generator().manual_seed(0)
    ball = torch.randn(count, 3, generator=g)
    ball = 0.1 * ball / ball.norm(dim=1, keepdim=True) * torch.rand(count, 1, generator=g) ** (1 / 3)
    points = torch.cat([ball, ball + torch.tensor([offset, 0.0, 0.0])])
    times = torch.cat([torch.zeros(count), torch.ones(count)])
    gaussians = initial_gaussians(points, torch.full((2 * count, 3), 0.5), 0, times, 0.2)
    gaussians["opacity"][:] = 3.0
    cfg = FourDConfig.from_dict(PRESETS["tiny"])
    return SequenceModel.build(cfg, gaussians, torch.tensor([[-1.0, -1, -1], [1.0, 1, 1]]), 2, g)


def test_matching_finds_a_motion_larger_than_the_object() -> None:
    model = _two_poses(0.5)
    estimate = matched_motion(model, [0.0, 1.0], match_radius=0.3, colour_weight=0.1)
    correction = estimate.velocity_change
    assert correction.shape == (400, 3) and bool(estimate.matched.all())
    # Both poses learn the same velocity: +0.5 along x per unit of time.
    for half in (correction[:200], correction[200:]):
        assert float(half[:, 0].mean()) == pytest.approx(0.5, abs=0.03)
        assert float(half[:, 1:].mean(0).abs().max()) < 0.02
        assert float((half - torch.tensor([0.5, 0.0, 0.0])).norm(dim=1).median()) < 0.08
    with torch.no_grad():
        model.params["velocity"] += correction
    # Moved halfway, the two poses meet: the sequence moves instead of cross-fading.
    middle = model.at_time(0.5, 0).means
    torch.testing.assert_close(middle[:200].mean(0), middle[200:].mean(0), atol=0.03, rtol=0)


def test_two_samplings_of_a_still_surface_do_not_move_it_and_a_real_motion_still_counts() -> None:
    """A still plane drawn twice at random (what Gaussians carved at two neighbouring times are):
    the soft matches disagree by about the sampling gap, which over one frame interval reads as a
    large velocity; below ``still_threshold`` spacings it is taken for none. A ball moving 0.5,
    many spacings, keeps nearly all of its motion."""
    g = torch.Generator().manual_seed(2)
    count, dt = 400, 1 / 23
    plane = torch.cat([torch.rand(2 * count, 2, generator=g) - 0.5, torch.zeros(2 * count, 1)], 1)
    times = torch.cat([torch.zeros(count), torch.full((count,), dt)])
    gaussians = initial_gaussians(plane, torch.full((2 * count, 3), 0.5), 0, times, 0.01)
    gaussians["opacity"][:] = 3.0
    cfg = FourDConfig.from_dict(PRESETS["tiny"])
    model = SequenceModel.build(cfg, gaussians, torch.tensor([[-1.0, -1, -1], [1.0, 1, 1]]), 2, g)
    jitter = matched_motion(model, [0.0, dt], match_radius=0.1, colour_weight=0.0).velocity_change
    still = matched_motion(model, [0.0, dt], 0.1, 0.0, still_threshold=1.5).velocity_change
    assert float(jitter.norm(dim=1).median()) > 0.2  # a still surface set moving without the gate
    assert float(still.norm(dim=1).median()) < 0.1 * float(jitter.norm(dim=1).median())
    moving = matched_motion(_two_poses(0.5), [0.0, 1.0], 0.3, 0.1, still_threshold=1.5).velocity_change
    assert float(moving[:, 0].mean()) == pytest.approx(0.5, abs=0.04)


def test_the_angular_velocity_of_a_turning_bar_spins_its_gaussians() -> None:
    """A bar turning about z, already moving at the right velocities at both times: matching
    changes little, the neighbourhoods' angular velocity is the bar's, and ``spin_of`` turns
    each quaternion at that rate."""
    g = torch.Generator().manual_seed(1)
    count, omega = 300, 0.4
    bar = (torch.rand(count, 3, generator=g) - 0.5) * torch.tensor([0.8, 0.16, 0.16])
    c, s = math.cos(omega), math.sin(omega)
    turned = bar @ torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T
    points = torch.cat([bar, turned])
    axis = torch.tensor([0.0, 0.0, omega])
    gaussians = initial_gaussians(
        points, torch.full((2 * count, 3), 0.5), 0, torch.cat([torch.zeros(count), torch.ones(count)]), 0.2
    )
    gaussians["opacity"][:] = 3.0
    gaussians["velocity"] = torch.cross(axis.expand_as(points), points, dim=1)
    cfg = FourDConfig.from_dict(PRESETS["tiny"])
    model = SequenceModel.build(cfg, gaussians, torch.tensor([[-1.0, -1, -1], [1.0, 1, 1]]), 2, g)
    estimate = matched_motion(model, [0.0, 1.0], match_radius=0.05, colour_weight=0.0)
    assert float(estimate.velocity_change.norm(dim=1).median()) < 0.05
    assert float(estimate.angular_velocity[:, 2].median()) == pytest.approx(omega, rel=0.25)
    assert float(estimate.angular_velocity[:, :2].abs().median()) < 0.1
    # spin_of: a quaternion turned at w for a short dt is the rotation by w dt.
    quats = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    rate = torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, 2.0]])
    step = torch.nn.functional.normalize(quats + spin_of(quats, rate) * 1e-3, dim=-1)
    half = 1e-3  # half the angle turned (2 rad/s for 1 ms)
    expected = torch.tensor([[math.cos(half), 0, 0, math.sin(half)], [0, math.cos(half), math.sin(half), 0]])
    torch.testing.assert_close(step, expected, atol=1e-6, rtol=0)


def test_a_bake_stores_exactly_the_gaussians_that_move(tmp_path) -> None:
    """The field at rest (its heads start at zero), visible at every time; a known subset gets a
    velocity: only those are listed, at every frame, and the rest come back at their place."""
    import numpy as np

    from core.avatar.sequence_file import SequenceFile
    from core.avatar.sequence_writer import write_sequence

    model = _model(count=60)
    moving = torch.zeros(60, dtype=torch.bool)
    moving[[3, 17, 18, 40, 59]] = True
    with torch.no_grad():
        model.params["opacity"][:] = 2.0
        model.params["velocity"][moving] = torch.tensor([0.2, 0.0, -0.1])
        model.params["velocity"][~moving] = 1e-7  # drift far below the file's position step
    times = [k / 9 for k in range(10)]
    frames = field_frames(model, times, 24.0, 1)
    split = frames.split(1.0 / 255.0)
    assert np.flatnonzero(~split.still).tolist() == [3, 17, 18, 40, 59]
    assert (split.listed == ~split.still[None]).all()
    path = tmp_path / "baked.gavatar4d"
    write_sequence(path, frames.sh, frames.means, frames.quats, frames.log_scales, frames.opacity_logits,
                   fps=24.0, times=times, listed=split.listed)  # fmt: skip
    seq = SequenceFile(path)
    seq.verify()
    assert seq.num_entries == 10 * 5 and seq.listed(4).tolist() == [3, 17, 18, 40, 59]
    step = float(np.max(seq.box[1] - seq.box[0])) / 65535
    for k in (0, 9):
        np.testing.assert_allclose(seq.frame(k).means, frames.means[k], atol=step)


def test_a_bake_through_scratch_files_writes_the_same_file(tmp_path) -> None:
    """Frames too large for RAM are memory-mapped in a scratch folder; the file must not change."""
    from core.avatar.sequence_writer import write_sequence

    model = _model(count=40)
    with torch.no_grad():
        model.params["opacity"][:] = 2.0
        model.params["velocity"][::3] = torch.tensor([0.1, -0.05, 0.0])
    times = [k / 7 for k in range(8)]
    files = []
    for scratch in (None, tmp_path / "scratch"):
        if scratch is not None:
            scratch.mkdir()
        frames = field_frames(model, times, 24.0, 1, scratch=scratch)
        assert isinstance(frames.means, np.memmap) == (scratch is not None)
        split = frames.split(1.0 / 255.0)
        path = tmp_path / f"baked_{len(files)}.gavatar4d"
        write_sequence(path, frames.sh, frames.means, frames.quats, frames.log_scales,
                       frames.opacity_logits, fps=24.0, times=times, listed=split.listed)  # fmt: skip
        files.append(path.read_bytes())
    assert sorted(p.name for p in (tmp_path / "scratch").iterdir()) == [
        "log_scales.npy", "means.npy", "opacity.npy", "quats.npy"]  # fmt: skip
    assert files[0] == files[1]
