"""The pure-torch reference rasterizer on hand-computable scenes, its conventions, its gradients,
and the front ``training.render.rasterize`` on the CPU."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from core.avatar.sh import sh_basis as np_sh_basis  # noqa: E402
from core.avatar.sh import sh_to_rgb as np_sh_to_rgb  # noqa: E402
from training.render import RasterizerError, rasterize  # noqa: E402
from training.render.reference import project  # noqa: E402
from training.twins.sh import sh_basis, sh_to_rgb  # noqa: E402

W, H, F = 64, 48, 100.0


def camera(cx: float = 32.0, cy: float = 24.0, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    k = torch.tensor([[F, 0.0, cx], [0.0, F, cy], [0.0, 0.0, 1.0]], dtype=dtype)
    return torch.eye(4, dtype=dtype), k


def gaussians(means, scales, opacities, dtype=torch.float64):
    means = torch.tensor(means, dtype=dtype)
    n = means.shape[0]
    quats = torch.tensor([[1.0, 0.0, 0.0, 0.0]] * n, dtype=dtype)
    return means, quats, torch.tensor(scales, dtype=dtype), torch.tensor(opacities, dtype=dtype)


def render(means, quats, scales, opac, colors, bg=(0.0, 0.0, 1.0), **kw):
    viewmat, k = kw.pop("cam", camera())
    background = None if bg is None else torch.tensor(bg, dtype=means.dtype)
    return rasterize(
        means, quats, scales, opac, colors, viewmat, k, W, H, background=background, backend="reference", **kw
    )


def test_one_isotropic_gaussian_peak_and_falloff() -> None:
    z, s, op = 2.0, 0.05, 0.8
    means, quats, scales, opac = gaussians([[0.0, 0.0, z]], [[s, s, s]], [op])
    color = torch.tensor([[1.0, 0.5, 0.25]], dtype=torch.float64)
    out = render(means, quats, scales, opac, color)
    var = (F * s / z) ** 2 + 0.3  # projected variance in px^2 plus the low-pass
    ys, xs = torch.meshgrid(
        torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij"
    )
    expected = op * torch.exp(-0.5 * ((xs - 32.0) ** 2 + (ys - 24.0) ** 2) / var)
    expected = torch.where(expected >= 1 / 255, expected, torch.zeros_like(expected)).double()
    torch.testing.assert_close(out.alphas[..., 0], expected, atol=1e-12, rtol=0)
    assert out.alphas[24, 32, 0].item() == pytest.approx(op)
    assert out.alphas[24, 33, 0].item() == pytest.approx(op * math.exp(-0.5 / var))
    bg = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(out.colors, expected[..., None] * color[0] + (1 - expected[..., None]) * bg)
    covered = expected > 0
    torch.testing.assert_close(out.depth[covered][:, 0], torch.full_like(out.depth[covered][:, 0], z))
    assert torch.all(out.depth[~covered] == 0)


def test_off_axis_projection_is_ewa() -> None:
    """Anisotropic, rotated, off-axis Gaussian: conic = inverse(J R S S R^T J^T + 0.3 I)."""
    rng = np.random.default_rng(0)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    mean, scale = np.array([0.3, -0.2, 2.5]), np.array([0.02, 0.05, 0.01])
    w, x, y, z = q
    rot = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    cov = rot @ np.diag(scale**2) @ rot.T
    jac = np.array(
        [[F / mean[2], 0, -F * mean[0] / mean[2] ** 2], [0, F / mean[2], -F * mean[1] / mean[2] ** 2]]
    )
    cov2d = jac @ cov @ jac.T + 0.3 * np.eye(2)
    inv = np.linalg.inv(cov2d)
    viewmat, k = camera()
    t = lambda a: torch.tensor(a, dtype=torch.float64)[None]  # noqa: E731
    p = project(t(mean), t(q), t(scale), t(0.5)[0:1], viewmat[None], k[None], W, H)
    np.testing.assert_allclose(p["conics"][0, 0].numpy(), [inv[0, 0], inv[0, 1], inv[1, 1]], rtol=1e-12)
    # gsplat pixel coordinates: integer-centre pixel + 0.5.
    np.testing.assert_allclose(p["means2d"][0, 0].numpy(), F * mean[:2] / mean[2] + [32.5, 24.5], rtol=1e-12)


def test_two_gaussians_composite_front_to_back_whatever_the_input_order() -> None:
    means, quats, scales, opac = gaussians(
        [[0.0, 0.0, 2.0], [0.0, 0.0, 3.0]], [[0.05] * 3, [0.08] * 3], [0.6, 0.5]
    )
    colors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    out = render(means, quats, scales, opac, colors)
    front, back, bg = 0.6, 0.4 * 0.5, 0.4 * 0.5
    torch.testing.assert_close(out.colors[24, 32], torch.tensor([front, back, bg], dtype=torch.float64))
    assert out.alphas[24, 32, 0].item() == pytest.approx(0.8)
    assert out.depth[24, 32, 0].item() == pytest.approx((0.6 * 2.0 + 0.2 * 3.0) / 0.8)
    flipped = render(means.flip(0), quats, scales.flip(0), opac.flip(0), colors.flip(0))
    torch.testing.assert_close(flipped.colors, out.colors, atol=1e-15, rtol=0)


def test_background_near_plane_and_alpha_threshold() -> None:
    color = torch.tensor([[1.0, 1.0, 1.0]], dtype=torch.float64)
    for z, opacity in ((0.009, 0.9), (-1.0, 0.9), (2.0, 0.003)):  # before near, behind, too faint
        means, quats, scales, opac = gaussians([[0.0, 0.0, z]], [[0.05] * 3], [opacity])
        out = render(means, quats, scales, opac, color, bg=(0.2, 0.3, 0.4))
        torch.testing.assert_close(
            out.colors, torch.tensor([0.2, 0.3, 0.4], dtype=torch.float64).expand(H, W, 3)
        )
        assert torch.all(out.alphas == 0) and torch.all(out.depth == 0)
        assert torch.all(out.meta["radii"] == 0)
    means, quats, scales, opac = gaussians([[0.0, 0.0, 0.011]], [[0.0001] * 3], [0.9])
    assert render(means, quats, scales, opac, color).alphas.max() > 0.5  # just past the near plane
    no_bg = render(means, quats, scales, opac, color, bg=None)
    assert no_bg.colors[0, 0].abs().sum() == 0


def test_compositing_stops_before_transmittance_reaches_1e4() -> None:
    # Opacity 0.95 four deep: T goes 0.05, 0.0025, 1.25e-4, then 6.25e-6 <= 1e-4: the fourth is dropped.
    means, quats, scales, opac = gaussians(
        [[0.0, 0.0, 2.0 + i] for i in range(4)], [[0.001] * 3] * 4, [0.95] * 4
    )
    colors = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    for block in (4096, 1):  # the stop also holds across blocks of Gaussians
        out = render(means, quats, scales, opac, colors, bg=(0.0, 0.0, 0.0), block=block)
        torch.testing.assert_close(
            out.colors[24, 32], torch.tensor([0.95, 0.0475, 0.002375], dtype=torch.float64)
        )
        assert out.alphas[24, 32, 0].item() == pytest.approx(1 - 0.05**3)
    # Alpha is clamped at 0.999: a single opaque Gaussian leaves 0.1 % of the background.
    means, quats, scales, opac = gaussians([[0.0, 0.0, 2.0]], [[0.001] * 3], [1.0])
    out = render(means, quats, scales, opac, colors[:1], bg=(0.0, 1.0, 0.0))
    torch.testing.assert_close(out.colors[24, 32], torch.tensor([0.999, 0.001, 0.0], dtype=torch.float64))


def test_pixel_centres_are_integer_coordinates() -> None:
    """A tiny Gaussian on the ray of pixel (x=5, y=7) of an integer-centre K peaks there, symmetrically."""
    viewmat, k = camera(cx=20.3, cy=30.6)
    x_ray, y_ray = (5 - 20.3) / F, (7 - 30.6) / F
    means, quats, scales, opac = gaussians([[2 * x_ray, 2 * y_ray, 2.0]], [[0.01] * 3], [0.9])
    color = torch.ones(1, 3, dtype=torch.float64)
    alpha = render(means, quats, scales, opac, color, cam=(viewmat, k)).alphas[..., 0]
    assert divmod(int(alpha.argmax()), W) == (7, 5)
    assert alpha[7, 5].item() == pytest.approx(0.9)
    assert alpha[7, 4].item() == pytest.approx(alpha[7, 6].item(), rel=1e-12)
    assert alpha[6, 5].item() == pytest.approx(alpha[8, 5].item(), rel=1e-12)


def test_view_dependent_colour_from_sh() -> None:
    rng = np.random.default_rng(1)
    sh = rng.normal(0, 0.3, (1, 16, 3))
    mean = np.array([0.1, 0.05, 3.0])
    means, quats, scales, opac = gaussians([mean.tolist()], [[0.001] * 3], [1.0])
    for cam_pos in (np.zeros(3), np.array([0.4, -0.3, 0.2])):
        viewmat, k = camera()
        viewmat[:3, 3] = -torch.tensor(cam_pos)
        out = render(
            means, quats, scales, opac, torch.tensor(sh), bg=(0, 0, 0), sh_degree=3, cam=(viewmat, k)
        )
        d = (mean - cam_pos) / np.linalg.norm(mean - cam_pos)
        expected = np_sh_to_rgb(sh, d[None])[0]
        peak = divmod(int(out.alphas[..., 0].argmax()), W)
        np.testing.assert_allclose((out.colors[peak] / out.alphas[peak]).numpy(), expected, rtol=1e-10)


def test_sh_twins_agree_with_numpy_and_gsplat() -> None:
    rng = np.random.default_rng(2)
    dirs = rng.normal(size=(200, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    coeffs = rng.normal(size=(200, 16, 3))
    for degree in range(4):
        np.testing.assert_allclose(
            sh_basis(torch.tensor(dirs), degree).numpy(), np_sh_basis(dirs, degree), atol=1e-14
        )
        ours = sh_to_rgb(torch.tensor(coeffs), torch.tensor(dirs) * 3.0, degree)  # unnormalised dirs
        np.testing.assert_allclose(ours.numpy(), np_sh_to_rgb(coeffs, dirs, degree), atol=1e-14)
    gsplat_torch = pytest.importorskip("gsplat.cuda._torch_impl")
    for degree in range(4):
        theirs = gsplat_torch._spherical_harmonics(degree, torch.tensor(dirs), torch.tensor(coeffs))
        ours = sh_to_rgb(torch.tensor(coeffs), torch.tensor(dirs), degree)
        np.testing.assert_allclose(ours.numpy(), torch.clamp_min(theirs + 0.5, 0).numpy(), atol=1e-12)


def test_projection_matches_gsplat_torch_implementation() -> None:
    gsplat_torch = pytest.importorskip("gsplat.cuda._torch_impl")
    g = torch.Generator().manual_seed(3)
    n = 300
    means = torch.randn(n, 3, generator=g, dtype=torch.float64) * 0.6 + torch.tensor(
        [0, 0, 3.0], dtype=torch.float64
    )
    quats = torch.randn(n, 4, generator=g, dtype=torch.float64)
    scales = torch.rand(n, 3, generator=g, dtype=torch.float64) * 0.05 + 0.001
    viewmat, k = camera()
    ours = project(
        means, quats, scales, torch.full((n,), 0.5, dtype=torch.float64), viewmat[None], k[None], W, H
    )
    shifted = k.clone()
    shifted[:2, 2] += 0.5
    covars, _ = gsplat_torch._quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    _, means2d, depths, conics, _ = gsplat_torch._fully_fused_projection(
        means, covars, viewmat[None], shifted[None], W, H
    )
    torch.testing.assert_close(ours["means2d"], means2d, rtol=1e-12, atol=1e-9)
    torch.testing.assert_close(ours["depths"], depths, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours["conics"], conics, rtol=1e-9, atol=1e-9)


def tiny_scene(n: int = 4, seed: int = 4, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    means = torch.rand(n, 3, generator=g, dtype=dtype) * torch.tensor([0.3, 0.2, 0.5], dtype=dtype)
    means = means + torch.tensor([-0.15, -0.1, 2.0], dtype=dtype)
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    scales = torch.rand(n, 3, generator=g, dtype=dtype) * 0.04 + 0.02
    opac = torch.rand(n, generator=g, dtype=dtype) * 0.6 + 0.2
    colors = torch.rand(n, 3, generator=g, dtype=dtype)
    return means, quats, scales, opac, colors


def test_gradients_match_finite_differences() -> None:
    params = tuple(p.requires_grad_(True) for p in tiny_scene())
    viewmat, k = camera(cx=7.2, cy=5.9)
    weights = torch.rand(10, 14, 4, generator=torch.Generator().manual_seed(9), dtype=torch.float64)

    def loss(means, quats, scales, opac, colors):
        out = rasterize(
            means,
            quats,
            scales,
            opac,
            colors,
            viewmat,
            k,
            14,
            10,
            background=torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64),
            backend="reference",
        )
        return (torch.cat([out.colors, out.depth], -1) * weights).sum()

    assert torch.autograd.gradcheck(loss, params, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_blocks_tiles_batches_and_single_camera_agree() -> None:
    means, quats, scales, opac, colors = tiny_scene(n=60, seed=5)  # deep enough to reach T < 1e-4
    viewmat, k = camera()
    bg = torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64)
    ref = rasterize(means, quats, scales, opac, colors, viewmat, k, W, H, background=bg, backend="reference")
    small = rasterize(
        means,
        quats,
        scales,
        opac,
        colors,
        viewmat,
        k,
        W,
        H,
        background=bg,
        backend="reference",
        block=3,
        tile_size=8,
    )
    torch.testing.assert_close(small.colors, ref.colors, atol=1e-14, rtol=0)
    viewmats = torch.stack([viewmat, viewmat])
    viewmats[1, 0, 3] = 0.05
    batch = rasterize(
        means,
        quats,
        scales,
        opac,
        colors,
        viewmats,
        torch.stack([k, k]),
        W,
        H,
        background=torch.stack([bg, bg * 0]),
        backend="auto",
    )
    assert batch.meta["backend"] == "pairs"  # auto on the CPU; it equals the reference
    assert (
        batch.colors.shape == (2, H, W, 3)
        and batch.alphas.shape == (2, H, W, 1)
        and batch.depth.shape == (2, H, W, 1)
    )
    assert batch.meta["means2d"].shape == (2, 60, 2) and batch.meta["radii"].shape == (2, 60, 2)
    torch.testing.assert_close(batch.colors[0], ref.colors)
    assert not torch.allclose(batch.colors[1], ref.colors)
    colors_, alphas_, meta_ = ref  # unpacks like gsplat's rasterization()
    assert colors_ is ref.colors and alphas_ is ref.alphas and meta_["depth"] is ref.depth
    no_depth = rasterize(
        means, quats, scales, opac, colors, viewmat, k, W, H, backend="reference", with_depth=False
    )
    assert no_depth.depth is None


def test_screen_space_gradients_are_available() -> None:
    means, quats, scales, opac, colors = (p.float().requires_grad_(True) for p in tiny_scene(n=20, seed=6))
    viewmat, k = camera(dtype=torch.float32)
    out = rasterize(means, quats, scales, opac, colors, viewmat, k, W, H, backend="reference")
    out.meta["means2d"].retain_grad()
    out.colors.sum().backward()
    grad = out.meta["means2d"].grad
    assert grad is not None and grad.shape == (1, 20, 2) and grad.abs().sum() > 0
    assert means.grad is not None and torch.isfinite(means.grad).all()


def test_antialiased_mode_dims_small_gaussians() -> None:
    means, quats, scales, opac = gaussians([[0.0, 0.0, 2.0]], [[0.002] * 3], [0.9])
    color = torch.ones(1, 3, dtype=torch.float64)
    classic = render(means, quats, scales, opac, color)
    aa = render(means, quats, scales, opac, color, antialiased=True)
    var = (F * 0.002 / 2) ** 2
    assert aa.alphas[24, 32, 0].item() == pytest.approx(0.9 * math.sqrt(var**2 / (var + 0.3) ** 2))
    assert classic.alphas[24, 32, 0].item() == pytest.approx(0.9)


def test_front_errors() -> None:
    means, quats, scales, opac, colors = tiny_scene()
    viewmat, k = camera()
    with pytest.raises(RasterizerError, match="needs CUDA tensors"):
        rasterize(means, quats, scales, opac, colors, viewmat, k, W, H, backend="gsplat")
    with pytest.raises(RasterizerError, match="unknown rasterizer backend 'cycles'"):
        rasterize(means, quats, scales, opac, colors, viewmat, k, W, H, backend="cycles")
    with pytest.raises(RasterizerError, match="quats has shape"):
        rasterize(means, quats[:, :3], scales, opac, colors, viewmat, k, W, H)
    with pytest.raises(RasterizerError, match="degree 2 needs"):
        rasterize(
            means, quats, scales, opac, colors[:, None, :].expand(-1, 4, -1), viewmat, k, W, H, sh_degree=2
        )


def test_culled_gaussians_keep_gradients_finite() -> None:
    """A Gaussian exactly in the camera plane, one behind it and one degenerate: no NaN anywhere."""
    means, quats, scales, opac = gaussians(
        [[0.0, 0.0, 0.0], [0.1, 0.0, -1.0], [0.0, 0.1, 2.0], [0.0, 0.0, 2.5]],
        [[0.05] * 3, [0.05] * 3, [0.0, 0.0, 0.0], [0.05] * 3],
        [0.9, 0.9, 0.9, 0.7],
    )
    colors = torch.rand(4, 3, dtype=torch.float64)
    params = [p.requires_grad_(True) for p in (means, quats, scales, opac, colors)]
    for antialiased in (False, True):
        out = render(*params, antialiased=antialiased)
        (out.colors.sum() + out.depth.sum()).backward()
        for p in params:
            assert p.grad is not None and torch.isfinite(p.grad).all()
            p.grad = None
        assert out.meta["radii"][0, :2].eq(0).all() and out.meta["radii"][0, 3].gt(0).all()
