"""gsplat (CUDA) against the pure-torch reference rasterizer on random scenes: images at PSNR >= 40 dB
and gradients of means, scales, quats, opacities and colours within relative 1e-3.

The GPU tests are marked ``gpu`` (run them on the device machine: ``pytest -m gpu
tests/training/render/test_gsplat_parity.py``). The harness itself is exercised on the CPU by comparing the
reference in float32 with the reference in float64, so a broken harness cannot pass silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

torch = pytest.importorskip("torch")

from training.render import rasterize  # noqa: E402

PSNR_MIN = 40.0
GRAD_RTOL = 1e-3
PARAMS = ("means", "quats", "scales", "opacities", "colors")


@dataclass
class Scene:
    means: torch.Tensor
    quats: torch.Tensor
    scales: torch.Tensor
    opacities: torch.Tensor
    colors: torch.Tensor
    viewmats: torch.Tensor
    Ks: torch.Tensor
    background: torch.Tensor
    width: int
    height: int
    sh_degree: int | None

    def to(self, device: str, dtype: torch.dtype) -> Scene:
        moved = {name: getattr(self, name).to(device=device, dtype=dtype) for name in PARAMS}
        return Scene(
            **moved,
            viewmats=self.viewmats.to(device=device, dtype=dtype),
            Ks=self.Ks.to(device=device, dtype=dtype),
            background=self.background.to(device=device, dtype=dtype),
            width=self.width,
            height=self.height,
            sh_degree=self.sh_degree,
        )


def look_at(eye: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """World-to-camera (OpenCV axes) for a camera at ``eye`` looking at ``target``, world y up."""
    forward = (target - eye) / torch.linalg.norm(target - eye)
    right = torch.linalg.cross(forward, torch.tensor([0.0, -1.0, 0.0], dtype=eye.dtype))
    right = right / torch.linalg.norm(right)
    down = torch.linalg.cross(forward, right)
    rot = torch.stack([right, down, forward])  # rows: camera axes in world coordinates
    view = torch.eye(4, dtype=eye.dtype)
    view[:3, :3] = rot
    view[:3, 3] = -rot @ eye
    return view


def random_scene(
    seed: int, n: int = 3000, sh_degree: int | None = 3, cameras: int = 2, size: tuple[int, int] = (160, 120)
) -> Scene:
    g = torch.Generator().manual_seed(seed)
    d = torch.float64
    means = (torch.rand(n, 3, generator=g, dtype=d) - 0.5) * torch.tensor([1.2, 1.6, 0.8], dtype=d)
    quats = torch.randn(n, 4, generator=g, dtype=d)
    scales = torch.exp(torch.empty(n, 3, dtype=d).uniform_(math.log(0.004), math.log(0.05), generator=g))
    opacities = torch.empty(n, dtype=d).uniform_(0.05, 0.9, generator=g)
    if sh_degree is None:
        colors = torch.rand(n, 3, generator=g, dtype=d)
    else:
        colors = torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g, dtype=d) * 0.25
        colors[:, 0] += 0.5
    width, height = size
    views, ks = [], []
    for _ in range(cameras):
        angle = float(torch.rand(1, generator=g)) * 2 * math.pi
        eye = torch.tensor([2.6 * math.sin(angle), 0.3, 2.6 * math.cos(angle)], dtype=d)
        views.append(look_at(eye, torch.zeros(3, dtype=d)))
        f = (150.0 + 40.0 * float(torch.rand(1, generator=g))) * width / 160
        cx = width / 2 - 0.5 + 6.3 * float(torch.randn(1, generator=g))  # off-centre principal point
        cy = height / 2 - 0.5 + 4.1 * float(torch.randn(1, generator=g))
        ks.append(torch.tensor([[f, 0, cx], [0, f * 1.02, cy], [0, 0, 1]], dtype=d))
    background = torch.rand(3, generator=g, dtype=d)
    return Scene(
        means,
        quats,
        scales,
        opacities,
        colors,
        torch.stack(views),
        torch.stack(ks),
        background,
        width,
        height,
        sh_degree,
    )


def render_with_grads(scene: Scene, backend: str, antialiased: bool = False):
    params = {name: getattr(scene, name).detach().clone().requires_grad_(True) for name in PARAMS}
    out = rasterize(
        params["means"],
        params["quats"],
        params["scales"],
        params["opacities"],
        params["colors"],
        scene.viewmats,
        scene.Ks,
        scene.width,
        scene.height,
        sh_degree=scene.sh_degree,
        background=scene.background,
        backend=backend,
        antialiased=antialiased,
    )
    g = torch.Generator().manual_seed(123)
    weights_c = torch.rand(out.colors.shape, generator=g, dtype=torch.float64).to(out.colors)
    weights_a = torch.rand(out.alphas.shape, generator=g, dtype=torch.float64).to(out.alphas)
    loss = (out.colors * weights_c).sum() + (out.alphas * weights_a).sum()
    loss.backward()
    grads = {name: p.grad.detach().double().cpu() for name, p in params.items()}
    return out.colors.detach().double().cpu(), out.alphas.detach().double().cpu(), out.depth, grads


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * math.log10(1.0 / mse)


Run = tuple[str, str, torch.dtype]  # backend, device, dtype


def compare(scene: Scene, test: Run, truth: Run, antialiased: bool = False) -> dict[str, float]:
    """Figures of ``test`` (backend, device, dtype) against ``truth``; asserts the thresholds."""
    images_t, alphas_t, _, grads_t = render_with_grads(scene.to(test[1], test[2]), test[0], antialiased)
    images_r, alphas_r, _, grads_r = render_with_grads(scene.to(truth[1], truth[2]), truth[0], antialiased)
    figures = {"psnr_rgb": psnr(images_t, images_r), "psnr_alpha": psnr(alphas_t, alphas_r)}
    for name in PARAMS:
        ref_norm = float(torch.linalg.norm(grads_r[name]))
        assert ref_norm > 0, f"no gradient reached {name}"
        figures[f"grad_{name}"] = float(torch.linalg.norm(grads_t[name] - grads_r[name])) / ref_norm
    print(figures)
    assert figures["psnr_rgb"] >= PSNR_MIN and figures["psnr_alpha"] >= PSNR_MIN, figures
    for name in PARAMS:
        assert figures[f"grad_{name}"] <= GRAD_RTOL, (name, figures)
    return figures


def test_harness_on_the_cpu_float32_reference_against_float64() -> None:
    scene = random_scene(0, n=300, sh_degree=1, cameras=1, size=(80, 60))
    figures = compare(scene, ("reference", "cpu", torch.float32), ("reference", "cpu", torch.float64))
    assert figures["psnr_rgb"] > 60  # same algorithm: only float32 rounding differs


def test_harness_catches_a_wrong_convention() -> None:
    """Without the half-pixel shift gsplat needs, images differ far beyond the threshold."""
    scene = random_scene(1, n=300, sh_degree=None, cameras=1, size=(80, 60)).to("cpu", torch.float64)
    shifted_ks = scene.Ks.clone()
    shifted_ks[:, :2, 2] += 0.5
    images = []
    with torch.no_grad():
        for ks in (scene.Ks, shifted_ks):
            images.append(
                rasterize(
                    scene.means,
                    scene.quats,
                    scene.scales,
                    scene.opacities,
                    scene.colors,
                    scene.viewmats,
                    ks,
                    scene.width,
                    scene.height,
                    background=scene.background,
                    backend="reference",
                ).colors
            )
    assert psnr(images[0], images[1]) < PSNR_MIN


gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@gpu
@needs_cuda
@pytest.mark.parametrize("sh_degree", [None, 0, 1, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_gsplat_matches_reference(sh_degree: int | None, seed: int) -> None:
    pytest.importorskip("gsplat")
    scene = random_scene(seed, sh_degree=sh_degree)
    compare(scene, ("gsplat", "cuda", torch.float32), ("reference", "cpu", torch.float64))


@gpu
@needs_cuda
def test_gsplat_matches_reference_antialiased() -> None:
    pytest.importorskip("gsplat")
    scene = random_scene(2, sh_degree=2)
    compare(scene, ("gsplat", "cuda", torch.float32), ("reference", "cpu", torch.float64), antialiased=True)


@gpu
@needs_cuda
def test_gsplat_depth_and_single_camera_match_reference() -> None:
    pytest.importorskip("gsplat")
    scene = random_scene(3, sh_degree=1, cameras=1)
    outs = {}
    for backend, device, dtype in (("gsplat", "cuda", torch.float32), ("reference", "cpu", torch.float64)):
        s = scene.to(device, dtype)
        outs[backend] = rasterize(
            s.means,
            s.quats,
            s.scales,
            s.opacities,
            s.colors,
            s.viewmats[0],
            s.Ks[0],
            s.width,
            s.height,
            sh_degree=1,
            background=s.background,
            backend=backend,
        )
    ref, gs = outs["reference"], outs["gsplat"]
    assert gs.colors.shape == ref.colors.shape == (scene.height, scene.width, 3)
    covered = ref.alphas[..., 0] > 0.5
    depth_error = (gs.depth.double().cpu()[covered] - ref.depth[covered]).abs().max()
    assert float(depth_error) < 1e-3 * float(ref.depth[covered].max())
