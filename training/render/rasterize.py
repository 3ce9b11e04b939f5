"""One entry for every Gaussian rasterizer: ``rasterize(...)`` with the project's OpenCV camera.

Backends (all take the same inputs and return the same outputs):
- ``"gsplat"``: gsplat 1.5.3's ``rasterization()`` (CUDA tensors; the trainer's default);
- ``"reference"``: the pure-torch reference (training/render/reference.py; any device, slow): the
  ground truth of the tests;
- ``"pairs"``: the same maths evaluated only on each Gaussian's own pixels (training/render/pairs.py;
  CPU tensors; the CPU default, several times faster than the reference, equal to float rounding);
- ``"inria"``: graphdeco's ``diff_gaussian_rasterization`` when importable (optional; CUDA; it
  clamps alpha at 0.99 and culls depth < 0.2, so its images differ slightly from the other two);
- ``"auto"``: gsplat for CUDA tensors when importable (else the reference), pairs on the CPU.

Cameras: ``viewmats`` world-to-camera 4x4 (OpenCV axes: x right, y down, z forward); ``Ks`` 3x3
intrinsics in pixels with **pixel centres at integer coordinates** (docs/DESIGN.md). gsplat samples
pixel (i, j) at (j + 0.5, i + 0.5), so this module adds 0.5 to cx, cy for it (as the reference does
internally); graphdeco samples at (j, i) and gets the principal point through its projection matrix.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal, NamedTuple

import torch

from training.render.pairs import rasterize_to_pixels_pairs
from training.render.reference import rasterize_reference

Backend = Literal["auto", "reference", "pairs", "gsplat", "inria"]
BACKENDS: tuple[str, ...] = ("auto", "reference", "pairs", "gsplat", "inria")


class RasterizerError(RuntimeError):
    """A backend that cannot run here, or inputs of the wrong shape; one clear sentence."""


class Rendered(NamedTuple):
    """Unpacks as ``colors, alphas, meta`` (gsplat's order). Shapes (C,H,W,D), (C,H,W,1) for batched
    cameras, (H,W,D), (H,W,1) for one camera. ``meta["depth"]`` is the expected depth
    sum(w z) / sum(w) (z the camera-space depth of each Gaussian's mean; 0 where nothing was drawn),
    or None without ``with_depth``. ``meta`` also holds the backend's ``means2d`` (C,N,2) (gsplat
    pixel coordinates; retain_grad() them for densification), ``radii`` (C,N,2) and ``depths``."""

    colors: torch.Tensor
    alphas: torch.Tensor
    meta: dict[str, Any]

    @property
    def depth(self) -> torch.Tensor | None:
        return self.meta.get("depth")


def gsplat_available() -> bool:
    try:
        import gsplat  # noqa: F401
    except Exception:
        return False
    return torch.cuda.is_available()


def inria_available() -> bool:
    try:
        import diff_gaussian_rasterization  # noqa: F401
    except Exception:
        return False
    return torch.cuda.is_available()


def resolve_backend(backend: str, device: torch.device) -> str:
    if backend not in BACKENDS:
        raise RasterizerError(f"unknown rasterizer backend '{backend}'; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        if device.type == "cuda":
            return "gsplat" if gsplat_available() else "reference"
        return "pairs"
    if backend == "pairs" and device.type != "cpu":
        raise RasterizerError(f"the pairs rasterizer runs on the CPU, got tensors on {device}")
    if backend in ("gsplat", "inria") and device.type != "cuda":
        raise RasterizerError(f"the {backend} rasterizer needs CUDA tensors, got tensors on {device}")
    if backend == "gsplat" and not gsplat_available():
        raise RasterizerError("the gsplat rasterizer is not importable here (pip install gsplat==1.5.3)")
    if backend == "inria" and not inria_available():
        raise RasterizerError(
            "graphdeco's diff_gaussian_rasterization is not installed (it is optional; use gsplat)"
        )
    return backend


def _check_inputs(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,  # noqa: N803
    sh_degree: int | None,
) -> None:
    n = means.shape[0]
    expected = {"means": (means, (n, 3)), "quats": (quats, (n, 4)), "scales": (scales, (n, 3)),
                "opacities": (opacities, (n,))}  # fmt: skip
    for name, (tensor, shape) in expected.items():
        if tuple(tensor.shape) != shape:
            raise RasterizerError(f"{name} has shape {tuple(tensor.shape)}, expected {shape}")
    if sh_degree is None:
        if colors.ndim != 2 or colors.shape[0] != n:
            raise RasterizerError(
                f"colors has shape {tuple(colors.shape)}, expected ({n}, D) (or SH with sh_degree)"
            )
    else:
        needed = (sh_degree + 1) ** 2
        if colors.ndim != 3 or colors.shape[0] != n or colors.shape[2] != 3 or colors.shape[1] < needed:
            raise RasterizerError(
                f"SH colors have shape {tuple(colors.shape)}, degree {sh_degree} needs ({n}, >={needed}, 3)"
            )
    if viewmats.ndim != 3 or viewmats.shape[1:] != (4, 4) or Ks.shape != (viewmats.shape[0], 3, 3):
        raise RasterizerError(
            f"cameras: viewmats {tuple(viewmats.shape)}, Ks {tuple(Ks.shape)}; expected (C,4,4), (C,3,3)"
        )


def rasterize(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,  # noqa: N803
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    background: torch.Tensor | None = None,
    backend: str = "auto",
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
    antialiased: bool = False,
    with_depth: bool = True,
    **backend_options: Any,
) -> Rendered:
    """Render N Gaussians (means (N,3), quats (N,4) w,x,y,z unnormalised, scales (N,3) linear,
    opacities (N,) in [0,1]) with ``colors`` (N,D) values or (N,K,3) SH coefficients (with
    ``sh_degree``; colour = max(SH . c + 0.5, 0)) from one camera (viewmats (4,4), Ks (3,3)) or C
    cameras ((C,4,4), (C,3,3)). ``background`` (D,) or (C,D) is composited under the result.
    ``backend_options`` go to the backend (gsplat: e.g. ``packed``, ``absgrad``; reference:
    ``tile_size``, ``block``)."""
    single = viewmats.ndim == 2
    if single:
        viewmats, Ks = viewmats[None], Ks[None]  # noqa: N806
    _check_inputs(means, quats, scales, opacities, colors, viewmats, Ks, sh_degree)
    cameras = viewmats.shape[0]
    backgrounds = None
    if background is not None:
        backgrounds = background.to(device=means.device, dtype=means.dtype)
        backgrounds = (backgrounds.expand(cameras, -1) if backgrounds.ndim == 1 else backgrounds).contiguous()
    chosen = resolve_backend(backend, means.device)
    if chosen in ("reference", "pairs"):
        if chosen == "pairs":
            backend_options = {"to_pixels": partial(rasterize_to_pixels_pairs, **backend_options)}
        images, alphas, depth, meta = rasterize_reference(
            means, quats, scales, opacities, colors, viewmats, Ks, width, height,
            sh_degree=sh_degree, backgrounds=backgrounds, near_plane=near_plane, far_plane=far_plane,
            eps2d=eps2d, antialiased=antialiased, with_depth=with_depth, **backend_options,
        )  # fmt: skip
        meta = dict(meta)
    elif chosen == "gsplat":
        images, alphas, depth, meta = _rasterize_gsplat(
            means, quats, scales, opacities, colors, viewmats, Ks, width, height,
            sh_degree=sh_degree, backgrounds=backgrounds, near_plane=near_plane, far_plane=far_plane,
            eps2d=eps2d, antialiased=antialiased, with_depth=with_depth, **backend_options,
        )  # fmt: skip
    else:
        if antialiased:
            raise RasterizerError("the inria rasterizer has no antialiased mode; use gsplat or the reference")
        images, alphas, depth, meta = _rasterize_inria(
            means, quats, scales, opacities, colors, viewmats, Ks, width, height,
            sh_degree=sh_degree, backgrounds=backgrounds, with_depth=with_depth,
        )  # fmt: skip
    meta["backend"] = chosen
    meta["depth"] = depth
    if single:
        images, alphas = images[0], alphas[0]
        meta["depth"] = None if depth is None else depth[0]
    return Rendered(images, alphas, meta)


def _pixel_corner_intrinsics(Ks: torch.Tensor) -> torch.Tensor:  # noqa: N803
    """Integer-centre intrinsics -> the convention of samplers at (j + 0.5, i + 0.5)."""
    shifted = Ks.clone()
    shifted[:, 0, 2] += 0.5
    shifted[:, 1, 2] += 0.5
    return shifted


def _rasterize_gsplat(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,  # noqa: N803
    width: int,
    height: int,
    *,
    sh_degree: int | None,
    backgrounds: torch.Tensor | None,
    near_plane: float,
    far_plane: float,
    eps2d: float,
    antialiased: bool,
    with_depth: bool,
    **options: Any,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, dict[str, Any]]:
    from gsplat import rasterization

    options.setdefault("packed", False)  # (C,N,...) meta: means2d/radii per camera and Gaussian
    images, alphas, meta = rasterization(
        means, quats, scales, opacities, colors, viewmats, _pixel_corner_intrinsics(Ks), width, height,
        near_plane=near_plane, far_plane=far_plane, eps2d=eps2d, sh_degree=sh_degree, backgrounds=backgrounds,
        render_mode="RGB+ED" if with_depth else "RGB",
        rasterize_mode="antialiased" if antialiased else "classic", **options,
    )  # fmt: skip
    depth = None
    if with_depth:
        images, depth = images[..., :-1], images[..., -1:]
    return images, alphas, depth, meta


def _rasterize_inria(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,  # noqa: N803
    width: int,
    height: int,
    *,
    sh_degree: int | None,
    backgrounds: torch.Tensor | None,
    with_depth: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, dict[str, Any]]:
    """graphdeco's rasterizer, one camera at a time. It renders 3 channels, so alpha and depth come
    from a second pass with per-Gaussian colours [1, z, 0] over a black background."""
    from diff_gaussian_rasterization import GaussianRasterizationSettings, GaussianRasterizer

    if (sh_degree is None and colors.shape[-1] != 3) or (sh_degree is not None and sh_degree > 3):
        raise RasterizerError("the inria rasterizer renders exactly 3 colour channels and SH up to degree 3")
    fields = set(getattr(GaussianRasterizationSettings, "_fields", ()))
    cameras = viewmats.shape[0]
    # One leaf for the screen-space gradients of all cameras (graphdeco's are in NDC units).
    means2d = torch.zeros(cameras, means.shape[0], 2, device=means.device, requires_grad=means.requires_grad)
    images, alphas, depths, radii_all = [], [], [], []
    for cam in range(cameras):
        w2c, k = viewmats[cam].float(), Ks[cam].float()
        fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
        znear, zfar = 0.01, 100.0
        # Its pixels: p = ((ndc + 1) * size - 1) / 2 with ndc = clip / z; choose the matrix so that
        # p = f * x / z + c (integer pixel centres, any principal point).
        proj = torch.zeros(4, 4, device=means.device)
        proj[0, 0], proj[0, 2] = 2 * fx / width, (2 * cx + 1) / width - 1
        proj[1, 1], proj[1, 2] = 2 * fy / height, (2 * cy + 1) / height - 1
        proj[2, 2], proj[2, 3] = zfar / (zfar - znear), -zfar * znear / (zfar - znear)
        proj[3, 2] = 1.0
        bg = backgrounds[cam].float() if backgrounds is not None else torch.zeros(3, device=means.device)
        values = {
            "image_height": int(height), "image_width": int(width),
            "tanfovx": float(width / (2 * fx)), "tanfovy": float(height / (2 * fy)),
            "bg": bg, "scale_modifier": 1.0,
            "viewmatrix": w2c.transpose(0, 1).contiguous(),
            "projmatrix": (proj @ w2c).transpose(0, 1).contiguous(),
            "sh_degree": int(sh_degree or 0), "campos": torch.linalg.inv(w2c)[:3, 3],
            "prefiltered": False, "debug": False, "antialiasing": False,
        }  # fmt: skip
        settings = GaussianRasterizationSettings(**{k: v for k, v in values.items() if k in fields})
        common = {
            "means3D": means, "means2D": torch.nn.functional.pad(means2d[cam], (0, 1)),
            "opacities": opacities[:, None], "scales": scales, "rotations": quats,
        }  # fmt: skip
        rasterizer = GaussianRasterizer(raster_settings=settings)
        if sh_degree is None:
            out = rasterizer(colors_precomp=colors, **common)
        else:
            out = rasterizer(shs=colors, **common)
        images.append(out[0].permute(1, 2, 0))
        radii_all.append(out[1])
        # Alpha and depth: a second pass with colours [1, z, 0] over black.
        z = means @ w2c[2, :3].to(means.dtype) + w2c[2, 3]
        aux_colors = torch.stack([torch.ones_like(z), z, torch.zeros_like(z)], dim=-1)
        aux_settings = settings._replace(bg=torch.zeros(3, device=means.device), sh_degree=0)
        aux = GaussianRasterizer(raster_settings=aux_settings)(colors_precomp=aux_colors, **common)[0]
        alpha = aux[0][..., None]
        alphas.append(alpha)
        depths.append(aux[1][..., None] / alpha.clamp_min(1e-10))
    radii = torch.stack(radii_all)
    meta = {
        "radii": torch.stack([radii, radii], -1),
        "means2d": means2d,
        "means2d_units": "ndc",
        "depths": None,
    }
    return torch.stack(images), torch.stack(alphas), (torch.stack(depths) if with_depth else None), meta
