"""Normal shading (core/avatar/shading.py): its maths and the avatar file (the torch twin:
tests/training/twins/test_shading.py)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.avatar.avatar_file import AvatarFileError, read_avatar, write_avatar
from core.avatar.binding import BindingError, face_frames
from core.avatar.shading import Shading
from tests.core.avatar.test_avatar_file import make_avatar
from tests.fixtures.avatar import bumpy_sphere


def random_shading(rng: np.random.Generator, vertices: np.ndarray, faces: np.ndarray, parent: np.ndarray):
    rest = face_frames(vertices, faces).rotations[parent, :, 2]
    return Shading(rng.normal(0, 0.3, (len(parent), 3, 3)).astype(np.float32), rest.astype(np.float32))


def test_zero_at_rest_and_linear_in_the_normal() -> None:
    rng = np.random.default_rng(0)
    vertices, faces = bumpy_sphere(rng)
    parent = rng.integers(0, len(faces), 50)
    shading = random_shading(rng, vertices, faces, parent)
    rest = face_frames(vertices, faces)
    np.testing.assert_allclose(shading.dc_delta(rest, parent), 0.0, atol=1e-6)
    # A rigid turn of the whole mesh: delta = S (R n_rest - n_rest), whatever the faces' positions.
    angle = 0.4
    turn = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    turned = face_frames(vertices @ turn.T + [0.1, 0.2, 0.3], faces)
    n_rest = shading.rest_normal.astype(np.float64)
    expected = np.einsum("gcd,gd->gc", shading.matrix, n_rest @ turn.T - n_rest)
    np.testing.assert_allclose(shading.dc_delta(turned, parent), expected, atol=1e-5)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(BindingError, match=r"shading matrix has shape \(4, 3\)"):
        Shading(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(BindingError, match="rest normals"):
        Shading(np.zeros((4, 3, 3)), np.zeros((5, 3)))


def test_avatar_file_round_trip_and_refusals(tmp_path: Path) -> None:
    avatar, _ = make_avatar()
    rng = np.random.default_rng(2)
    faces_count = avatar.header["rig"]["num_faces"]
    avatar.shading = Shading(
        rng.normal(size=(len(avatar), 3, 3)).astype(np.float32),
        rng.normal(size=(len(avatar), 3)).astype(np.float32),
    )
    path = tmp_path / "a.gavatar"
    write_avatar(path, avatar)
    back = read_avatar(path)
    assert back.header["shading"] == {"kind": "normal_linear"} and back.header["version"] == 3
    assert back.shading is not None
    np.testing.assert_array_equal(back.shading.matrix, avatar.shading.matrix)
    np.testing.assert_array_equal(back.shading.rest_normal, avatar.shading.rest_normal)
    order_back = back.sorted_by_face()
    assert order_back.shading is not None and len(order_back.shading) == len(avatar) <= faces_count * 10
    # Without shading: null in the header, nothing in the archive.
    avatar.shading = None
    write_avatar(tmp_path / "plain.gavatar", avatar)
    plain = read_avatar(tmp_path / "plain.gavatar")
    assert plain.shading is None and plain.header["shading"] is None

    # Broken files: an unknown kind, a missing member, a wrong shape, NaN.
    def rewrite(name: str, edit) -> Path:
        out = tmp_path / name
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
            for item in src.namelist():
                data = edit(item, src.read(item))
                if data is not None:
                    dst.writestr(item, data)
        return out

    def header_kind(item, data):
        if item != "header.json":
            return data
        h = json.loads(data)
        h["shading"] = {"kind": "spherical_gaussians"}
        return json.dumps(h)

    with pytest.raises(AvatarFileError, match="unknown kind"):
        read_avatar(rewrite("kind.gavatar", header_kind))
    with pytest.raises(AvatarFileError, match=r"lacks shading/rest_normal\.npy"):
        read_avatar(rewrite("missing.gavatar", lambda i, d: None if i == "shading/rest_normal.npy" else d))

    def npy(array: np.ndarray) -> bytes:
        import io

        buf = io.BytesIO()
        np.save(buf, array)
        return buf.getvalue()

    short = rewrite(
        "short.gavatar", lambda i, d: npy(np.zeros((3, 3, 3), np.float32)) if i == "shading/matrix.npy" else d
    )
    with pytest.raises(AvatarFileError, match="shading/matrix of shape"):
        read_avatar(short)
    nan = np.zeros((len(avatar), 3, 3), np.float32)
    nan[0, 0, 0] = np.nan
    with pytest.raises(AvatarFileError, match="NaN or infinite values in its shading"):
        read_avatar(rewrite("nan.gavatar", lambda i, d: npy(nan) if i == "shading/matrix.npy" else d))


def test_posed_gaussians_adds_the_scaled_shading_and_keeps_the_stored_sh() -> None:
    from core.avatar.binding import posed_gaussians
    from tests.fixtures.avatar import random_appearance, random_binding

    rng = np.random.default_rng(3)
    vertices, faces = bumpy_sphere(rng)
    binding = random_binding(rng, 30, len(faces), dtype=np.float32)
    appearance = random_appearance(rng, 30, degree=1, dtype=np.float32)
    stored = appearance.sh.copy()
    shading = random_shading(rng, vertices, faces, binding.parent_face)
    posed = vertices + 0.03 * rng.normal(size=vertices.shape)
    plain = posed_gaussians(posed, faces, binding, appearance).sh
    delta = shading.dc_delta(face_frames(posed, faces), binding.parent_face)
    for scale in (1.0, 0.5):
        sh = posed_gaussians(posed, faces, binding, appearance, shading=shading, shading_scale=scale).sh
        np.testing.assert_allclose(sh[:, 0], plain[:, 0] + scale * delta, atol=1e-6)
        np.testing.assert_array_equal(sh[:, 1:], plain[:, 1:])
    off = posed_gaussians(posed, faces, binding, appearance, shading=shading, shading_scale=0.0).sh
    np.testing.assert_array_equal(off, plain)
    np.testing.assert_array_equal(appearance.sh, stored)
