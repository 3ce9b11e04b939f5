"""The whole-frame CUDA graph renderer (training/render/frame_graph.py) draws what the eager path
draws: rig + binding + dynamics + normal shading + SH + gsplat, frame after frame, with the camera
and the image size changing between calls. GPU only (run through the device tool: pytest -m gpu)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    pytest.importorskip("gsplat")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from core.rig.loaders import load_model
    from tests.fixtures.trainer import frame_params, ground_truth_avatar, look_at_cv, write_head_model
    from training.model.posing import RigPoser

    device = torch.device("cuda")
    model = load_model(write_head_model(tmp_path_factory.mktemp("model")))
    gaussians, num_dyn = ground_truth_avatar(model, device)
    # Degree-3 SH with random view dependence, so the graph's SH evaluation is exercised too.
    gen = torch.Generator(device=device).manual_seed(3)
    state = gaussians.export_state()
    state["sh_rest"] = 0.2 * torch.randn(state["offset"].shape[0], 15, 3, device=device, generator=gen)
    # Normal shading too (core/avatar/shading.py): colour follows the faces' world normals.
    state["shading"] = 0.3 * torch.randn(state["offset"].shape[0], 3, 3, device=device, generator=gen)
    from training.model.face_gaussians import GaussianSet

    gaussians = GaussianSet.from_state(state, gaussians.num_faces, device)
    gaussians.requires_grad_(False)
    poser = RigPoser(model, np.zeros(model.num_shape), None, device)
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(4):
        p = frame_params(rng, model.num_vertices)
        pose = np.concatenate([p["rotation"], p["neck_pose"], p["jaw_pose"], p["eyes_pose"]]).reshape(-1, 3)
        frames.append((p["expr"], pose, p["translation"]))
    cameras = []
    for eye in ((0.0, 0.05, 0.6), (0.35, -0.1, 0.5)):
        viewmat = look_at_cv(np.array(eye), np.zeros(3))
        cameras.append(torch.as_tensor(viewmat, dtype=torch.float32, device=device))
    return poser, gaussians, num_dyn, frames, cameras


def _inputs(frame, device):
    from training.model.tracking import FrameInputs

    expr, pose, transl = (torch.as_tensor(a, dtype=torch.float32, device=device) for a in frame)
    return FrameInputs(expression=expr, pose=pose, transl=transl)


def _intrinsics(width: int, height: int, device) -> torch.Tensor:
    f = 1.4 * width
    return torch.tensor([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]], device=device)


@pytest.mark.parametrize(("sh_degree", "antialiased"), [(0, False), (3, False), (3, True)])
def test_frame_graph_matches_the_eager_render(scene, sh_degree: int, antialiased: bool) -> None:
    from training.render.frame_graph import GraphedFrames
    from training.render.renderer import Renderer, render_avatar

    poser, gaussians, num_dyn, frames, cameras = scene
    device = poser.device
    background = (1.0, 0.9, 0.8)
    renderer = Renderer("gsplat", background, device, antialiased=antialiased)
    width, height = 96, 80
    K = _intrinsics(width, height, device)  # noqa: N806
    graphed = GraphedFrames(
        poser, gaussians, num_dyn, sh_degree, width, height, background, antialiased=antialiased
    )
    drawn = 0.0
    for i, frame in enumerate(frames):
        viewmat = cameras[i % 2]
        inputs = _inputs(frame, device)
        with torch.no_grad():
            _, eager, eager_alpha, _ = render_avatar(
                poser, gaussians, num_dyn, renderer, inputs, viewmat[None], K[None], width, height, sh_degree
            )
        image, alpha = graphed(inputs, viewmat, K)
        assert image.shape == (height, width, 3) and alpha.shape == (height, width, 1)
        assert (image - eager[0]).abs().max().item() < 1e-4
        assert (alpha - eager_alpha[0]).abs().max().item() < 1e-4
        drawn += float(alpha.sum())
    assert drawn > 0.05 * width * height * len(frames)  # the avatar is in view, not an empty frame


def test_frames_differ_with_the_expression_and_the_camera(scene) -> None:
    """The replay reads each call's inputs: a new expression or camera changes the image."""
    from training.render.frame_graph import GraphedFrames

    poser, gaussians, num_dyn, frames, cameras = scene
    device = poser.device
    K = _intrinsics(64, 64, device)  # noqa: N806
    graphed = GraphedFrames(poser, gaussians, num_dyn, 0, 64, 64, (1.0, 1.0, 1.0))
    first = graphed(_inputs(frames[0], device), cameras[0], K)[0].clone()
    other_frame = graphed(_inputs(frames[1], device), cameras[0], K)[0].clone()
    other_camera = graphed(_inputs(frames[0], device), cameras[1], K)[0].clone()
    again = graphed(_inputs(frames[0], device), cameras[0], K)[0]
    assert (first - other_frame).abs().max() > 0.05
    assert (first - other_camera).abs().max() > 0.05
    assert (first - again).abs().max() < 1e-6


def test_compiled_posing_draws_the_same_frame(scene) -> None:
    """torch.compile'd posing (fused kernels, needs Triton) inside the graph: equal to float rounding."""
    pytest.importorskip("triton")
    from training.render.frame_graph import GraphedFrames
    from training.render.renderer import Renderer, render_avatar

    poser, gaussians, num_dyn, frames, cameras = scene
    device = poser.device
    K = _intrinsics(64, 64, device)  # noqa: N806
    fused = GraphedFrames(poser, gaussians, num_dyn, 3, 64, 64, (1.0, 1.0, 1.0), compile_posing=True)
    renderer = Renderer("gsplat", (1.0, 1.0, 1.0), device)
    for frame in frames[:2]:
        inputs = _inputs(frame, device)
        with torch.no_grad():
            eager = render_avatar(
                poser, gaussians, num_dyn, renderer, inputs, cameras[0][None], K[None], 64, 64, 3
            )
        assert (fused(inputs, cameras[0], K)[0] - eager[1][0]).abs().max().item() < 1e-3
