"""gavatar.render_sequence with the GAVATAR engine (real bpy): 8 frames of an AMASS-driven stand-in
SMPL-X avatar (generated Gaussians bound to the rig's driver mesh, with dynamics), each frame
compared with the pure-torch reference rasterizer's image of the rig's *numpy forward* at the
parameters Blender evaluated for that frame (core.rig.lbs + core.avatar.binding): the whole
chain AMASS -> keyframes -> rig -> driver mesh -> Gaussians -> engine -> output file, end to end.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from core.avatar import binding  # noqa: E402
from core.rig import lbs, loaders  # noqa: E402
from core.rotations import axis_angle_to_matrix  # noqa: E402
from tests.blender.animate.test_amass_import import _clip  # noqa: E402
from tests.engine.test_render import (  # noqa: E402
    PSNR_MIN,
    WORLD_LINEAR,
    camera_intrinsics,
    look_at,
    psnr,
    read_png,
    reference_render,
    setup_scene,
    srgb_from_linear,
    world_to_camera,
)
from tests.fixtures.animate import (  # noqa: E402
    STANDIN_SMPLX,
    active_parts,
    module,
    open_blend,
    standin_smplx_blend,  # noqa: F401  (fixture)
)
from tests.fixtures.real_data import real_file  # noqa: E402
from tests.fixtures.standin import standin_dir  # noqa: E402, F401  (fixture)

WIDTH, HEIGHT = 72, 96
FRAMES = (1, 71, 10)  # start, end, step: 8 frames


def _bound_splats(model, count: int = 3000, seed: int = 7):  # type: ignore[no-untyped-def]
    """Generated Gaussians on random faces of the driver mesh, SH degree 1, rank-2 dynamics."""
    splat_data = module("engine.splats.data")
    rng = np.random.default_rng(seed)
    sh = np.zeros((count, 4, 3), dtype=np.float32)
    sh[:, 0] = rng.normal(0.0, 0.8, (count, 3))
    sh[:, 1:] = rng.normal(0.0, 0.15, (count, 3, 3))
    features = model.num_expression + 9 * (model.num_joints - 1)
    return splat_data.SplatArrays(
        means=np.zeros((count, 3), np.float32),
        quats=rng.normal(size=(count, 4)).astype(np.float32),
        log_scales=np.log(rng.uniform(1.0, 2.5, (count, 3))).astype(np.float32),  # face units
        opacity_logits=rng.normal(1.5, 0.8, count).astype(np.float32),
        sh=sh,
        parent_face=rng.integers(0, len(model.faces), count).astype(np.int32),
        offsets=rng.normal(0.0, 0.3, (count, 3)).astype(np.float32),
        dyn_basis=rng.normal(0.0, 0.05, (count, 2, 14)).astype(np.float32),
        dyn_mix=rng.normal(0.0, 0.5, (2, features)).astype(np.float32),
        dyn_num_expression=model.num_expression,
        dyn_num_pose_features=9 * (model.num_joints - 1),
    )


def _forward_gaussians(parts, model, arrays) -> tuple[binding.GaussianSet, np.ndarray]:  # type: ignore[no-untyped-def]
    """The world Gaussians of the numpy forward at the parameters Blender evaluated now."""
    state = module("blender.rig.pose_io").read_pose(parts)
    out = lbs.forward(model, betas=state["betas"], expression=state["expression"], pose=state["pose"],
                      transl=state["transl"])  # fmt: skip
    rotations = axis_angle_to_matrix(state["pose"])
    features = np.concatenate(
        [state["expression"][: model.num_expression], (rotations[1:] - np.eye(3)).ravel()]
    )
    posed = binding.posed_gaussians(
        out.vertices,
        model.faces,
        binding.Binding(arrays.parent_face, arrays.offsets, arrays.quats, arrays.log_scales),
        arrays.gaussians(),
        binding.Dynamics(
            arrays.dyn_basis, arrays.dyn_mix, arrays.dyn_num_expression, arrays.dyn_num_pose_features
        ),
        features,
    )
    depsgraph = bpy.context.evaluated_depsgraph_get()
    return posed, np.array(parts.mesh.evaluated_get(depsgraph).matrix_world, dtype=np.float64)


@pytest.mark.slow
def test_amass_driven_standin_avatar_sequence_matches_the_reference(
    standin_smplx_blend: Path,  # noqa: F811
    standin_dir: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    open_blend(standin_smplx_blend)
    parts = active_parts()
    model = loaders.load_model(standin_dir / STANDIN_SMPLX, family="SMPLX")
    camera = setup_scene(WIDTH, HEIGHT)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    clip = real_file("amass_sample_smplh.npz") or _clip(tmp_path / "walk.npz", frames=151, fps=60.0)
    assert bpy.ops.gavatar.import_amass(filepath=str(clip), ground=True) == {"FINISHED"}
    arrays = _bound_splats(model)
    module("engine.splats.data").create_splat_object("Avatar", arrays, driver=parts.mesh)
    # Frame the whole clip: the camera looks at the middle of the body from the front-left.
    scene.frame_set(FRAMES[0])
    posed, matrix = _forward_gaussians(parts, model, arrays)
    world = posed.means @ matrix[:3, :3].T + matrix[:3, 3]
    centre = 0.5 * (world.min(0) + world.max(0))
    look_at(camera, centre + np.array([-0.8, -2.2, 0.2]), centre)
    started = time.perf_counter()
    ok = bpy.ops.gavatar.render_sequence(
        frame_start=FRAMES[0], frame_end=FRAMES[1], frame_step=FRAMES[2], filepath=str(tmp_path / "f_"),
        file_format="PNG",
    )  # fmt: skip
    seconds = time.perf_counter() - started
    assert ok == {"FINISHED"}
    frames = list(range(FRAMES[0], FRAMES[1] + 1, FRAMES[2]))
    assert len(frames) == 8
    background = srgb_from_linear(WORLD_LINEAR)
    k_matrix = camera_intrinsics(camera, WIDTH, HEIGHT)
    images, values = [], []
    for frame in frames:
        rgba = read_png(tmp_path / f"f_{frame:04d}.png")  # PNG sequences keep alpha, like the farm's
        assert rgba.shape[2] == 4 and np.all(rgba[..., 3] == 1.0)  # opaque film: alpha 1 everywhere
        image = rgba[..., :3]
        scene.frame_set(frame)
        posed, matrix = _forward_gaussians(parts, model, arrays)
        expected, _alphas, _depth = reference_render(
            posed, world_to_camera(camera) @ matrix, k_matrix, WIDTH, HEIGHT, background
        )
        covered = np.abs(image - background).max(axis=2) > 0.02
        assert covered.mean() > 0.05, f"frame {frame} is empty"
        values.append(psnr(image, expected))
        images.append(image)
    for a, b in itertools.pairwise(images):
        assert np.abs(a - b).max() > 0.05  # the motion shows
    print(
        "GAVATAR sequence vs reference of the numpy forward, PSNR per frame: "
        + ", ".join(f"{v:.1f}" for v in values)
        + f" dB; {seconds / len(frames):.2f} s a frame "
        + f"(render_sequence, {WIDTH}x{HEIGHT}, {arrays.count} Gaussians)"
    )
    assert min(values) >= PSNR_MIN
