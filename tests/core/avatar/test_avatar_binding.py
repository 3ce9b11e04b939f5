"""Triangle frames, binding -> world Gaussians and dynamics in numpy (core/avatar/binding.py)."""

from __future__ import annotations

import numpy as np
import pytest

from core.avatar.binding import (
    DYN_COLOR,
    DYN_LOG_SCALE,
    DYN_OFFSET,
    DYN_OPACITY,
    DYN_ROTATION,
    Binding,
    BindingError,
    Dynamics,
    bind,
    face_frames,
    posed_gaussians,
    unbind,
)
from core.avatar.quaternion import quat_conjugate, quat_multiply, quat_normalize, quat_to_matrix
from core.rotations import matrix_to_quaternion, quaternion_to_matrix
from tests.fixtures.avatar import bumpy_sphere, random_appearance, random_binding, random_dynamics


def test_frame_of_a_hand_computed_triangle() -> None:
    vertices = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    frames = face_frames(vertices, np.array([[0, 1, 2]]))
    np.testing.assert_allclose(frames.origins[0], [2 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(frames.rotations[0], np.eye(3), atol=1e-15)
    np.testing.assert_allclose(frames.sizes[0], (2.0 + np.sqrt(5.0) + 1.0) / 3.0)
    np.testing.assert_allclose(frames.quaternions[0], [1.0, 0.0, 0.0, 0.0], atol=1e-15)
    # A Gaussian at offset (0.5, 0, 0) sits half a face size along the first edge from the centroid.
    k = frames.sizes[0]
    binding = Binding(
        np.array([0]), np.array([[0.5, 0.0, 0.0]]), np.array([[2.0, 0, 0, 0]]), np.zeros((1, 3))
    )
    out = bind(frames, binding)
    np.testing.assert_allclose(out.means[0], [2 / 3 + 0.5 * k, 1 / 3, 0.0])
    np.testing.assert_allclose(out.quats[0], [1.0, 0, 0, 0])
    np.testing.assert_allclose(out.log_scales[0], np.log([k, k, k]))


def test_frames_are_rotations_matching_the_shared_quaternion_code() -> None:
    rng = np.random.default_rng(1)
    vertices, faces = bumpy_sphere(rng)
    frames = face_frames(vertices, faces)
    r = frames.rotations
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    np.testing.assert_allclose(r[:, :, 0], (b - a) / np.linalg.norm(b - a, axis=1, keepdims=True), atol=1e-12)
    normal = np.cross(b - a, c - a)
    np.testing.assert_allclose(r[:, :, 2], normal / np.linalg.norm(normal, axis=1, keepdims=True), atol=1e-12)
    np.testing.assert_allclose(frames.quaternions, matrix_to_quaternion(r), atol=1e-14)
    np.testing.assert_allclose(quaternion_to_matrix(frames.quaternions), r, atol=1e-12)


def test_quaternion_selection_covers_every_branch() -> None:
    """Rotations near 180 degrees about x, y and z exercise the non-w branches."""
    rng = np.random.default_rng(2)
    q = quat_normalize(rng.normal(size=(400, 4)))
    q[:100, 0] *= 1e-3  # tiny w: x/y/z branches
    q = quat_normalize(q)
    r = quaternion_to_matrix(q)
    # Feed the matrices through face_frames: a triangle whose frame is exactly r.
    tri = np.stack([np.zeros((400, 3)), r[:, :, 0], r[:, :, 1]], axis=1).reshape(-1, 3)
    frames = face_frames(tri, np.arange(1200).reshape(400, 3))
    np.testing.assert_allclose(frames.rotations, r, atol=1e-12)
    np.testing.assert_allclose(frames.quaternions, matrix_to_quaternion(r), atol=1e-12)
    sign = np.sign(q[:, :1])
    np.testing.assert_allclose(frames.quaternions, q * np.where(sign == 0, 1, sign), atol=1e-12)


def naive_bind(vertices, faces, binding: Binding, deltas=None):
    """Per-Gaussian loop straight from docs/DESIGN.md, via matrices."""
    means, rotations, log_scales = [], [], []
    for g in range(len(binding)):
        a, b, c = vertices[faces[binding.parent_face[g]]]
        x = (b - a) / np.linalg.norm(b - a)
        z = np.cross(b - a, c - a)
        z /= np.linalg.norm(z)
        frame = np.stack([x, np.cross(z, x), z], axis=1)
        k = (np.linalg.norm(b - a) + np.linalg.norm(c - b) + np.linalg.norm(a - c)) / 3
        d = np.zeros(14) if deltas is None else deltas[g]
        means.append((a + b + c) / 3 + k * frame @ (binding.offset[g] + d[DYN_OFFSET]))
        local = binding.rotation[g] + d[DYN_ROTATION]
        rotations.append(frame @ quaternion_to_matrix(local / np.linalg.norm(local)))
        log_scales.append(np.log(k) + binding.log_scale[g] + d[DYN_LOG_SCALE])
    return np.array(means), np.array(rotations), np.array(log_scales)


@pytest.mark.parametrize("with_dynamics", [False, True])
def test_bind_matches_the_formulas(with_dynamics: bool) -> None:
    rng = np.random.default_rng(3)
    vertices, faces = bumpy_sphere(rng)
    binding = random_binding(rng, 300, len(faces))
    deltas = None
    if with_dynamics:
        dynamics = random_dynamics(rng, 300)
        deltas = dynamics.deltas(dynamics.features(rng.normal(size=7), rng.normal(size=9)))
    out = bind(face_frames(vertices, faces), binding, deltas, chunk=64)  # several chunks
    means, rotations, log_scales = naive_bind(vertices, faces, binding, deltas)
    np.testing.assert_allclose(out.means, means, atol=1e-12)
    np.testing.assert_allclose(quaternion_to_matrix(out.quats), rotations, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(out.quats, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(out.log_scales, log_scales, atol=1e-12)


def test_rigid_motion_and_uniform_scale_carry_the_gaussians() -> None:
    rng = np.random.default_rng(4)
    vertices, faces = bumpy_sphere(rng)
    binding = random_binding(rng, 200, len(faces))
    rest = bind(face_frames(vertices, faces), binding)
    rot = quaternion_to_matrix(quat_normalize(rng.normal(size=4)))
    scale, shift = 1.7, rng.normal(size=3)
    moved = bind(face_frames(scale * vertices @ rot.T + shift, faces), binding)
    np.testing.assert_allclose(moved.means, scale * rest.means @ rot.T + shift, atol=1e-12)
    np.testing.assert_allclose(
        quaternion_to_matrix(moved.quats), rot @ quaternion_to_matrix(rest.quats), atol=1e-12
    )
    np.testing.assert_allclose(moved.log_scales, rest.log_scales + np.log(scale), atol=1e-12)


def test_unbind_inverts_bind() -> None:
    rng = np.random.default_rng(5)
    vertices, faces = bumpy_sphere(rng)
    binding = random_binding(rng, 100, len(faces))
    frames = face_frames(vertices, faces)
    out = bind(frames, binding)
    back = unbind(frames, binding.parent_face, out.means, out.quats, out.log_scales)
    np.testing.assert_allclose(back.offset, binding.offset, atol=1e-12)
    np.testing.assert_allclose(back.log_scale, binding.log_scale, atol=1e-12)
    # Same rotation up to the quaternion's sign.
    np.testing.assert_allclose(
        quaternion_to_matrix(back.rotation), quaternion_to_matrix(binding.rotation), atol=1e-12
    )


def test_float32_binding_stays_float32_and_close() -> None:
    rng = np.random.default_rng(6)
    vertices, faces = bumpy_sphere(rng)
    b64 = random_binding(rng, 500, len(faces))
    b32 = Binding(b64.parent_face, *(x.astype(np.float32) for x in (b64.offset, b64.rotation, b64.log_scale)))
    frames = face_frames(vertices, faces)
    out64, out32 = bind(frames, b64), bind(frames, b32)
    assert out32.means.dtype == np.float32 and out32.quats.dtype == np.float32
    np.testing.assert_allclose(out32.means, out64.means, atol=1e-5)
    np.testing.assert_allclose(out32.quats, out64.quats, atol=1e-5)


def test_degenerate_faces_give_finite_gaussians() -> None:
    vertices = np.array([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0], [0.0, 0, 0]])
    faces = np.array([[0, 1, 2], [0, 3, 3]])  # collinear; all three vertices at one point
    binding = Binding(np.array([0, 1]), np.ones((2, 3)), np.ones((2, 4)), np.zeros((2, 3)))
    out = bind(face_frames(vertices, faces), binding)
    assert np.isfinite(out.rows).all()


def test_dynamics_are_the_full_blendshapes_factorised() -> None:
    rng = np.random.default_rng(7)
    dynamics = random_dynamics(rng, 50, rank=3, num_expression=4, num_pose=6)
    f = dynamics.features(rng.normal(size=10), rng.normal(size=6))
    assert f.shape == (10,)
    full = np.einsum("gkc,kf->gcf", dynamics.basis, dynamics.mix)  # (G,14,E+P) blendshapes
    np.testing.assert_allclose(dynamics.deltas(f), full @ f, atol=1e-12)
    np.testing.assert_allclose(dynamics.deltas(f), full @ f, atol=1e-12)  # cached layout, same result
    assert dynamics.basis.shape == (50, 3, 14)
    np.testing.assert_allclose(np.einsum("gkc,kf->gcf", dynamics.basis, dynamics.mix), full)
    # Expression truncated to E, pose features zero-padded to P.
    f2 = dynamics.features(np.arange(1.0, 8.0), np.array([9.0]))
    np.testing.assert_array_equal(f2, [1, 2, 3, 4, 9, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(dynamics.features(None, None), np.zeros(10))


def test_posed_gaussians_applies_appearance_deltas() -> None:
    rng = np.random.default_rng(8)
    vertices, faces = bumpy_sphere(rng)
    binding = random_binding(rng, 40, len(faces))
    appearance = random_appearance(rng, 40, degree=2)
    dynamics = random_dynamics(rng, 40)
    f = dynamics.features(rng.normal(size=5), rng.normal(size=9))
    posed = posed_gaussians(vertices, faces, binding, appearance, dynamics, f)
    deltas = dynamics.deltas(f)
    np.testing.assert_allclose(posed.opacity_logits, appearance.opacity_logits + deltas[:, DYN_OPACITY])
    np.testing.assert_allclose(posed.sh[:, 0], appearance.sh[:, 0] + deltas[:, DYN_COLOR])
    np.testing.assert_array_equal(posed.sh[:, 1:], appearance.sh[:, 1:])
    static = posed_gaussians(vertices, faces, binding, appearance)
    np.testing.assert_array_equal(static.opacity_logits, appearance.opacity_logits)
    bound = bind(face_frames(vertices, faces), binding, deltas)
    np.testing.assert_allclose(posed.means, bound.means)


def test_binding_errors() -> None:
    rng = np.random.default_rng(9)
    binding = random_binding(rng, 10, 20)
    binding.check(num_faces=20)
    binding.parent_face[0] = 19
    with pytest.raises(BindingError, match="points to face 19 but the mesh has 5 faces"):
        binding.check(num_faces=5)
    binding.parent_face[0] = -1
    with pytest.raises(BindingError, match="points to face -1"):
        binding.check(num_faces=20)
    binding.parent_face[0] = 0
    binding.offset[3, 1] = np.nan
    with pytest.raises(BindingError, match="offset holds NaN"):
        binding.check()
    with pytest.raises(BindingError, match="rotation has shape"):
        Binding(np.zeros(3, np.int32), np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(BindingError, match="integers"):
        Binding(np.zeros(3), np.zeros((3, 3)), np.zeros((3, 4)), np.zeros((3, 3)))
    with pytest.raises(BindingError, match="mix has shape"):
        Dynamics(np.zeros((3, 2, 14)), np.zeros((2, 5)), 2, 2)
    with pytest.raises(BindingError, match="basis has shape"):
        Dynamics(np.zeros((3, 2, 13)), np.zeros((2, 4)), 2, 2)


def test_quaternion_helpers() -> None:
    rng = np.random.default_rng(10)
    a, b = quat_normalize(rng.normal(size=(20, 4))), quat_normalize(rng.normal(size=(20, 4)))
    np.testing.assert_allclose(
        quat_to_matrix(quat_multiply(a, b)), quat_to_matrix(a) @ quat_to_matrix(b), atol=1e-12
    )
    np.testing.assert_allclose(quat_to_matrix(a), quaternion_to_matrix(a), atol=1e-12)
    np.testing.assert_allclose(
        quat_multiply(a, quat_conjugate(a)), np.tile([1.0, 0, 0, 0], (20, 1)), atol=1e-12
    )
    assert quat_to_matrix(a.astype(np.float32)).dtype == np.float32
    np.testing.assert_array_equal(quat_normalize(np.zeros((1, 4))), np.zeros((1, 4)))
