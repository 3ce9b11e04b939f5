"""The Vector pass of splat objects: each Gaussian's screen motion between the previous, the
current and the next frame (projected at each), as Blender's Vector pass holds it, drawn and
weighted like the other passes."""

from __future__ import annotations

import numpy as np

from ...core import render_passes
from ...core.cameras import ViewCamera
from ..frame import SplatDraw
from ..gpu import arrays as gpu_arrays
from ..gpu.api import Texture
from . import splats as splat_pass


def splat_centres(splats: list[SplatDraw], camera: ViewCamera) -> dict[str, np.ndarray]:
    """Each splat object's projected Gaussians (count, 4: x, y, depth, opacity) for camera."""
    centres: dict[str, np.ndarray] = {}
    for splat in splats:
        if not splat.data.count:
            continue
        local = camera.with_world(splat.matrix_world)
        splat_pass.run_project(
            splat.data, local, splat_scale=splat.splat_scale, max_sh_degree=splat.max_sh_degree
        )
        centres[splat.name] = splat_pass.read_centres(splat.data)
    return centres


def motion_textures(
    previous: dict[str, np.ndarray], current: dict[str, np.ndarray], following: dict[str, np.ndarray]
) -> dict[str, Texture]:
    """Per splat object, a texture of its Gaussians' Vector pass values (objects seen at all three
    times with the same Gaussian count)."""
    textures: dict[str, Texture] = {}
    for name, now in current.items():
        before, after = previous.get(name), following.get(name)
        if before is None or after is None or len(before) != len(now) or len(after) != len(now):
            continue
        textures[name] = gpu_arrays.upload(render_passes.vector_pass(before, now, after))
    return textures
