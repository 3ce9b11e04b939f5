"""Gaussian rasterization for the trainer and the tests: ``rasterize()`` over gsplat (CUDA), the
pure-torch reference (CPU) and graphdeco's rasterizer (optional), with the project's cameras."""

from training.render.rasterize import BACKENDS, RasterizerError, Rendered, rasterize, resolve_backend

__all__ = ["BACKENDS", "RasterizerError", "Rendered", "rasterize", "resolve_backend"]
