"""The torch twin of the binding (training/twins/binding.py) agrees with the numpy code
Blender runs, and is differentiable."""

from __future__ import annotations

import numpy as np
import pytest

from core.avatar.binding import bind, face_frames, unbind
from tests.fixtures.avatar import bumpy_sphere, random_binding, random_dynamics

torch = pytest.importorskip("torch")
bt = pytest.importorskip("training.twins.binding")


def t64(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(torch.float64)


def torch_bind(frames, binding, deltas=None, dtype=torch.float64):
    arrays = (binding.offset, binding.rotation, binding.log_scale)
    offset, rotation, log_scale = (torch.from_numpy(a).to(dtype) for a in arrays)
    return bt.bind(frames, torch.from_numpy(binding.parent_face), offset, rotation, log_scale, deltas)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numpy_and_torch_agree(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vertices, faces = bumpy_sphere(rng, rings=6 + seed, segments=9 + 2 * seed)
    vertices = vertices @ np.linalg.qr(rng.normal(size=(3, 3)))[0]  # arbitrary orientation
    g = 400
    binding = random_binding(rng, g, len(faces))
    dynamics = random_dynamics(rng, g, rank=5, num_expression=6, num_pose=18)
    features = dynamics.features(rng.normal(size=6), rng.normal(size=18))

    frames = face_frames(vertices, faces)
    deltas = dynamics.deltas(features)
    out = bind(frames, binding, deltas)

    tf = bt.face_frames(t64(vertices), torch.from_numpy(faces))
    np.testing.assert_allclose(tf.origins.numpy(), frames.origins, atol=1e-12)
    np.testing.assert_allclose(tf.rotations.numpy(), frames.rotations, atol=1e-12)
    np.testing.assert_allclose(tf.sizes.numpy(), frames.sizes, atol=1e-12)
    np.testing.assert_allclose(tf.quats.numpy(), frames.quaternions, atol=1e-12)

    t_deltas = bt.dynamic_deltas(t64(dynamics.basis), t64(dynamics.mix), t64(features))
    np.testing.assert_allclose(t_deltas.numpy(), deltas, atol=1e-12)
    means, quats, log_scales = torch_bind(tf, binding, t_deltas)
    for name, ours, theirs in (("means", means, out.means), ("quats", quats, out.quats),
                               ("log_scales", log_scales, out.log_scales)):  # fmt: skip
        err = np.abs(ours.numpy() - theirs).max()
        assert err < 1e-5, f"{name}: {err}"
        np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-12, err_msg=name)

    # Without dynamics, and the inverse.
    m0, q0, s0 = torch_bind(tf, binding)
    static = bind(frames, binding)
    np.testing.assert_allclose(m0.numpy(), static.means, atol=1e-12)
    np.testing.assert_allclose(q0.numpy(), static.quats, atol=1e-12)
    off, rot, ls = bt.unbind(tf, torch.from_numpy(binding.parent_face), m0, q0, s0)
    back = unbind(frames, binding.parent_face, static.means, static.quats, static.log_scales)
    np.testing.assert_allclose(off.numpy(), back.offset, atol=1e-12)
    np.testing.assert_allclose(rot.numpy(), back.rotation, atol=1e-12)
    np.testing.assert_allclose(ls.numpy(), back.log_scale, atol=1e-12)


def test_float32_torch_is_close_to_float64_numpy() -> None:
    rng = np.random.default_rng(5)
    vertices, faces = bumpy_sphere(rng)
    binding = random_binding(rng, 300, len(faces))
    out = bind(face_frames(vertices, faces), binding)
    tf = bt.face_frames(torch.from_numpy(vertices).float(), torch.from_numpy(faces))
    means, quats, _ = torch_bind(tf, binding, dtype=torch.float32)
    np.testing.assert_allclose(means.numpy(), out.means, atol=2e-5)
    np.testing.assert_allclose(quats.numpy(), out.quats, atol=2e-5)


def test_batched_vertices_and_features() -> None:
    rng = np.random.default_rng(6)
    vertices, faces = bumpy_sphere(rng)
    batch = np.stack([vertices, vertices * 1.3 + 0.2])
    binding = random_binding(rng, 50, len(faces))
    dynamics = random_dynamics(rng, 50)
    feats = np.stack([dynamics.features(rng.normal(size=5), rng.normal(size=9)) for _ in range(2)])
    tf = bt.face_frames(t64(batch), torch.from_numpy(faces))
    deltas = bt.dynamic_deltas(t64(dynamics.basis), t64(dynamics.mix), t64(feats))
    assert deltas.shape == (2, 50, 14)
    means, _, _ = torch_bind(tf, binding, deltas)
    for i in range(2):
        ref = bind(face_frames(batch[i], faces), binding, dynamics.deltas(feats[i]))
        np.testing.assert_allclose(means[i].numpy(), ref.means, atol=1e-12)


def test_gradients_flow_and_match_finite_differences() -> None:
    rng = np.random.default_rng(7)
    vertices, faces = bumpy_sphere(rng, rings=4, segments=5)
    binding = random_binding(rng, 6, len(faces))
    dynamics = random_dynamics(rng, 6, rank=2, num_expression=2, num_pose=3)
    pf = torch.from_numpy(binding.parent_face)
    faces_t = torch.from_numpy(faces)
    inputs = tuple(
        t64(a).requires_grad_(True)
        for a in (vertices, binding.offset, binding.rotation, binding.log_scale, dynamics.basis, dynamics.mix,
                  dynamics.features(rng.normal(size=2), rng.normal(size=3)))
    )  # fmt: skip

    def run(v, off, rot, ls, basis, mix, f):
        deltas = bt.dynamic_deltas(basis, mix, f)
        means, quats, log_scales = bt.bind(bt.face_frames(v, faces_t), pf, off, rot, ls, deltas)
        return torch.cat([means.reshape(-1), quats.reshape(-1), log_scales.reshape(-1)])

    assert torch.autograd.gradcheck(run, inputs, eps=1e-6, atol=1e-5)
