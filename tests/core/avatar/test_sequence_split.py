"""Which Gaussians a baked sequence stores per frame (core/avatar/sequence_split.py): exactly the
ones whose change a pixel could show, only at the frames where they are visible."""

from __future__ import annotations

import numpy as np
import pytest

from core.avatar.quaternion import quat_multiply
from core.avatar.sequence_file import FrameArrays
from core.avatar.sequence_split import divergence, held_values, logit, split_sequence

TOLERANCE = 1.0 / 255.0


def _turn_about_z(angle: float) -> np.ndarray:
    return np.array([np.cos(angle / 2), 0.0, 0.0, np.sin(angle / 2)])


def _sequence(frames: int = 8) -> tuple[dict[str, np.ndarray], dict[str, slice]]:
    """Ten Gaussians per kind of behaviour, opaque, 2 cm across, in a 1 m box."""
    groups = {name: slice(10 * i, 10 * i + 10) for i, name in enumerate(
        ["still", "jitter", "slide", "spin_round", "spin_flat", "fade", "ghost", "grow"]
    )}  # fmt: skip
    g = 80
    rng = np.random.default_rng(0)
    base = rng.uniform(0.0, 1.0, (g, 3))
    means = np.repeat(base[None], frames, 0)
    quats = np.tile([1.0, 0.0, 0.0, 0.0], (frames, g, 1))
    log_scales = np.full((frames, g, 3), np.log(0.01))
    opacity = np.full((frames, g), 2.0)
    steps = np.arange(frames)
    means[:, groups["jitter"]] += rng.normal(0.0, 1e-6, (frames, 10, 3))  # far below the 1/65535 step
    means[:, groups["slide"], 0] += 0.002 * steps[:, None]  # a fifth of its size per frame
    log_scales[:, groups["spin_flat"]] = np.log([0.05, 0.005, 0.005])  # a needle, turning
    for name in ("spin_round", "spin_flat"):
        quats[:, groups[name]] = np.stack([_turn_about_z(0.2 * k) for k in steps])[:, None]
    opacity[:, groups["fade"]] = np.linspace(2.0, -12.0, frames)[:, None]  # visible, then not
    opacity[:, groups["ghost"]] = -12.0  # never visible, but moving
    means[:, groups["ghost"], 1] += 0.1 * steps[:, None]
    log_scales[:, groups["grow"]] += 0.05 * steps[:, None, None]
    arrays = {"means": means, "quats": quats, "log_scales": log_scales, "opacity_logits": opacity}
    return arrays, groups


def test_exactly_the_changing_gaussians_are_listed() -> None:
    arrays, groups = _sequence()
    split = split_sequence(**arrays, tolerance=TOLERANCE)
    moving = {"slide", "spin_flat", "fade", "grow"}
    for name, rows in groups.items():
        assert (~split.still[rows]).all() == (name in moving), name
        assert split.still[rows].all() == (name not in moving), name
    # A listed Gaussian is stored at the frames where it is visible; the fading ones while they are.
    alpha = 1 / (1 + np.exp(-arrays["opacity_logits"]))
    assert (split.listed == ((alpha > TOLERANCE) & ~split.still)).all()
    assert split.listed[:, groups["fade"]].any(1).tolist() == (alpha[:, 50] > TOLERANCE).tolist()
    assert 0 < split.listed[:, groups["fade"]].sum() < 8 * 10
    assert not split.listed[:, groups["ghost"]].any() and not split.listed[:, groups["still"]].any()
    # Tolerance 0 lists everything.
    everything = split_sequence(**arrays, tolerance=0.0)
    assert everything.listed.all() and not everything.still.any()


def test_the_held_value_and_the_divergence() -> None:
    arrays, groups = _sequence()
    held = held_values(**arrays)
    np.testing.assert_allclose(held.means, arrays["means"].mean(0))
    # The turning Gaussians' held rotation is the middle one (turns are symmetric about it).
    turn = _turn_about_z(0.2 * 3.5)
    np.testing.assert_allclose(np.abs(held.quats[groups["spin_round"]] @ turn), 1.0, atol=1e-9)
    # A pure move of m standard deviations has KL m^2 / 2: m counted along each of the Gaussian's
    # axes (the needle's long axis points 0.7 rad from x, 0.05 long and 0.005 thick).
    frame = FrameArrays(held.means + [0.0, 0.001, 0.0], held.quats, held.log_scales, held.opacity_logits)
    kl = divergence(held, frame, floor=1e-9)
    assert kl[groups["still"]] == pytest.approx(0.5 * 0.1**2)
    m2 = (0.001 * np.sin(0.7) / 0.05) ** 2 + (0.001 * np.cos(0.7) / 0.005) ** 2
    assert kl[groups["spin_flat"]] == pytest.approx(0.5 * m2)
    # Turning a round Gaussian changes nothing; a needle by 0.1 rad does.
    twisted = quat_multiply(_turn_about_z(0.1), held.quats)
    kl = divergence(held, FrameArrays(held.means, twisted, held.log_scales, held.opacity_logits), 1e-9)
    assert kl[groups["spin_round"]] == pytest.approx(0.0, abs=1e-12)
    assert (kl[groups["spin_flat"]] > 0.1).all()
    assert logit(np.array([0.5]))[0] == 0.0
