"""The torch twin agrees with the numpy forward, and both agree with the smplx package's lbs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
smplx_lbs = pytest.importorskip("smplx.lbs")

from core.rig import loaders  # noqa: E402
from core.rig.lbs import forward  # noqa: E402
from tests.fixtures.files import rig_files as rf  # noqa: E402
from training.twins.lbs import TorchRig, axis_angle_to_matrix  # noqa: E402


def _random_inputs(model, batch, rng, pose_scale=0.6):
    return {
        "betas": rng.normal(size=(batch, model.num_shape)),
        "expression": rng.normal(size=(batch, model.num_expression)),
        "pose": rng.normal(scale=pose_scale, size=(batch, model.num_joints, 3)),
        "transl": rng.normal(scale=0.3, size=(batch, 3)),
        "vertex_offsets": rng.normal(scale=0.01, size=(batch, model.num_vertices, 3)),
    }


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rig_models")
    return {
        "FLAME": loaders.load_model(rf.flame_2020_pickle(folder, num_vertices=120, scale=1.0)),
        "SMPLX": loaders.load_model(rf.smplx_npz(folder, num_vertices=150, num_shape=10, num_expression=10)),
        "SMPLH": loaders.load_model(rf.smplh_amass_npz(folder, num_vertices=140)),
    }


@pytest.mark.parametrize("family", ["FLAME", "SMPLX", "SMPLH"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_and_torch_agree(models, family: str, dtype: str) -> None:
    model = models[family]
    rng = np.random.default_rng(11)
    inputs = _random_inputs(model, 6, rng)
    rig = TorchRig(model, dtype=getattr(torch, dtype))
    out = rig(**{k: torch.as_tensor(v) for k, v in inputs.items()})
    worst = 0.0
    for b in range(6):
        ref = forward(model, **{k: v[b] for k, v in inputs.items()})
        for name in ("vertices", "joints", "rest_joints", "shaped_vertices", "transforms"):
            diff = np.abs(getattr(out, name)[b].double().numpy() - getattr(ref, name)).max()
            worst = max(worst, float(diff))
    assert worst < (1e-10 if dtype == "float64" else 1e-5), worst


def test_torch_broadcasts_identity_and_defaults(models) -> None:
    model = models["SMPLX"]
    rig = TorchRig(model, dtype=torch.float64)
    rng = np.random.default_rng(2)
    betas = rng.normal(size=model.num_shape)
    pose = rng.normal(scale=0.4, size=(3, model.num_joints, 3))
    out = rig(betas=torch.as_tensor(betas), pose=torch.as_tensor(pose))
    for b in range(3):
        ref = forward(model, betas=betas, pose=pose[b])
        np.testing.assert_allclose(out.vertices[b].numpy(), ref.vertices, atol=1e-10)
    rest = rig()
    np.testing.assert_allclose(rest.vertices[0].numpy(), forward(model).vertices, atol=1e-12)


def test_torch_is_differentiable_everywhere(models) -> None:
    model = models["FLAME"]
    rig = TorchRig(model, dtype=torch.float64)
    for pose_scale in (0.0, 0.5):
        pose = torch.full((2, model.num_joints, 3), pose_scale, dtype=torch.float64, requires_grad=True)
        betas = torch.zeros((2, model.num_shape), dtype=torch.float64, requires_grad=True)
        rig(betas=betas, pose=pose).vertices.square().sum().backward()
        assert torch.isfinite(pose.grad).all() and torch.isfinite(betas.grad).all()
        assert pose.grad.abs().sum() > 0
    small = TorchRig(models["FLAME"], dtype=torch.float64)
    pose = torch.randn((1, model.num_joints, 3), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: small(pose=p).vertices[:, :5], (pose,))


def test_rodrigues_near_zero_matches_numpy() -> None:
    from core.rig.lbs import axis_angle_to_matrix as np_rodrigues

    aa = np.array([[0.0, 0.0, 0.0], [1e-7, -2e-7, 3e-8], [1e-3, 0.0, 0.0], [0.3, -1.2, 2.0], [3.1, 0.0, 0.1]])
    np.testing.assert_allclose(
        axis_angle_to_matrix(torch.as_tensor(aa)).numpy(), np_rodrigues(aa), atol=1e-14
    )


def _smplx_reference(model, inputs, b):
    """Vertices from smplx.lbs.lbs with the arrays laid out as the smplx package does."""
    dirs = np.concatenate([model.shape_dirs, model.expr_dirs], axis=2)
    coeffs = np.concatenate([inputs["betas"][b], inputs["expression"][b]])
    template = model.v_template + inputs["vertex_offsets"][b]
    t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)  # noqa: E731
    posedirs = model.pose_dirs.reshape(-1, model.num_pose_features).T
    verts, joints = smplx_lbs.lbs(
        t(coeffs)[None],
        t(inputs["pose"][b].reshape(1, -1)),
        t(template),
        t(dirs),
        t(posedirs),
        t(model.joint_regressor),
        torch.as_tensor(model.parents, dtype=torch.long),
        t(model.weights),
        pose2rot=True,
    )
    return verts[0].numpy() + inputs["transl"][b], joints[0].numpy() + inputs["transl"][b]


@pytest.mark.parametrize("family", ["FLAME", "SMPLX", "SMPLH"])
def test_numpy_matches_smplx_lbs(models, family: str) -> None:
    model = models[family]
    inputs = _random_inputs(model, 4, np.random.default_rng(5))
    worst = 0.0
    for b in range(4):
        ours = forward(model, **{k: v[b] for k, v in inputs.items()})
        verts, joints = _smplx_reference(model, inputs, b)
        worst = max(worst, np.abs(ours.vertices - verts).max(), np.abs(ours.joints - joints).max())
    # smplx's Rodrigues takes the angle of (v + 1e-8): a bias of about 1e-8 m on these models.
    assert worst < 1e-6, worst


def test_old_smplx_layout_matches_smplx_class_slicing(tmp_path: Path) -> None:
    """10 shape + 10 expression files: the smplx package reads expression from shapedirs[..., 10:20]."""
    arrays = rf.model_arrays("SMPLX", seed=3, num_shape=10, num_expression=10)
    model = loaders.load_model(rf.write_npz(tmp_path / "SMPLX_NEUTRAL.npz", arrays))
    np.testing.assert_array_equal(model.expr_dirs, arrays["shapedirs"][:, :, 10:20])
