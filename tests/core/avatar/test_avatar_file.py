"""The .gavatar file: round trips, the layout other tools read, atomic writes, and broken files."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.avatar import avatar_file as avatar_module
from core.avatar.avatar_file import (
    FORMAT_VERSION,
    Avatar,
    AvatarFileError,
    read_avatar,
    read_avatar_file,
    write_avatar,
    write_avatar_file,
)
from core.avatar.binding import bind, face_frames
from core.avatar.gaussians import GaussianSet
from core.avatar.ply import read_ply
from tests.fixtures.avatar import bumpy_sphere, random_appearance, random_binding, random_dynamics


def make_avatar(
    seed: int = 0, g: int = 120, dynamics: bool = True, degree: int = 2
) -> tuple[Avatar, np.ndarray]:
    rng = np.random.default_rng(seed)
    vertices, faces = bumpy_sphere(rng)
    binding = random_binding(rng, g, len(faces), dtype=np.float32)
    rest = bind(face_frames(vertices, faces), binding)
    appearance = random_appearance(rng, g, degree=degree, dtype=np.float32)
    gaussians = GaussianSet(
        np.ascontiguousarray(rest.means),
        np.ascontiguousarray(rest.quats),
        np.ascontiguousarray(rest.log_scales),
        appearance.opacity_logits,
        appearance.sh,
    )
    header = {
        "rig": {
            "family": "FLAME",
            "model_name": "stand-in.pkl",
            "model_sha256": "ab" * 32,
            "num_vertices": len(vertices),
            "num_faces": len(faces),
        },
        "trainer": {"name": "test", "iterations": 7},
        "metrics": {"psnr": 31.5},
        "background": [1.0, 1.0, 1.0],
    }
    identity = {
        "shape": rng.normal(size=300).astype(np.float32),
        "static_offset": np.zeros((len(vertices), 3)),
    }
    dyn = (
        random_dynamics(rng, g, rank=3, num_expression=4, num_pose=6, dtype=np.float32) if dynamics else None
    )
    return Avatar(header, binding, gaussians, identity, dyn), vertices


def assert_same_avatar(a: Avatar, b: Avatar) -> None:
    for name in ("parent_face", "offset", "rotation", "log_scale"):
        np.testing.assert_array_equal(getattr(a.binding, name), getattr(b.binding, name), err_msg=name)
    for name, value in a.gaussians.fields().items():
        np.testing.assert_array_equal(value, getattr(b.gaussians, name), err_msg=name)
    assert a.identity.keys() == b.identity.keys()
    for name in a.identity:
        np.testing.assert_allclose(a.identity[name], b.identity[name])
    assert (a.dynamics is None) == (b.dynamics is None)
    if a.dynamics is not None and b.dynamics is not None:
        np.testing.assert_array_equal(a.dynamics.basis, b.dynamics.basis)
        np.testing.assert_array_equal(a.dynamics.mix, b.dynamics.mix)
        assert (a.dynamics.num_expression, a.dynamics.num_pose_features) == (
            b.dynamics.num_expression,
            b.dynamics.num_pose_features,
        )


@pytest.mark.parametrize("dynamics", [True, False])
def test_round_trip(tmp_path: Path, dynamics: bool) -> None:
    avatar, _ = make_avatar(dynamics=dynamics)
    if avatar.dynamics is not None:
        avatar.dynamics.deltas(np.ones(10))  # switches the basis to its fast layout (a view)
    path = tmp_path / "a.gavatar"
    write_avatar(path, avatar)
    back = read_avatar(path)
    assert_same_avatar(avatar, back)
    h = back.header
    sizes = (h["format"], h["version"], h["num_gaussians"], h["sh_degree"])
    assert sizes == ("gaussian-avatar", FORMAT_VERSION, 120, 2)
    assert h["trainer"] == {"name": "test", "iterations": 7} and h["metrics"] == {"psnr": 31.5}
    assert h["identity"] == {"shape": [300], "static_offset": [len(avatar.identity["static_offset"]), 3]}
    assert h["dynamics"] == ({"rank": 3, "num_expression": 4, "num_pose_features": 6} if dynamics else None)
    assert back.rig_family == "FLAME" and back.background == (1.0, 1.0, 1.0)
    assert read_avatar_file is read_avatar


def test_archive_layout_is_stored_with_a_standard_ply(tmp_path: Path) -> None:
    avatar, _ = make_avatar()
    path = tmp_path / "a.gavatar"
    write_avatar(path, avatar)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())
        ply_bytes = zf.read("gaussians.ply")
        header = json.loads(zf.read("header.json"))
    assert names == {
        "header.json",
        "gaussians.ply",
        "binding/parent_face.npy",
        "binding/offset.npy",
        "binding/rotation.npy",
        "binding/log_scale.npy",
        "identity/shape.npy",
        "identity/static_offset.npy",
        "dynamics/basis.npy",
        "dynamics/mix.npy",
    }
    assert header["version"] == FORMAT_VERSION
    # The PLY member is a plain 3DGS PLY: extracted, any reader takes it.
    (tmp_path / "extracted.ply").write_bytes(ply_bytes)
    assert ply_bytes.startswith(b"ply\nformat binary_little_endian 1.0\n")
    extracted = read_ply(tmp_path / "extracted.ply")
    np.testing.assert_array_equal(extracted.means, avatar.gaussians.means)
    np.testing.assert_array_equal(read_ply(io.BytesIO(ply_bytes)).sh, avatar.gaussians.sh)


def test_keyword_form_used_by_the_trainer(tmp_path: Path) -> None:
    avatar, _ = make_avatar()
    path = tmp_path / "k.gavatar"
    g, b, d = avatar.gaussians, avatar.binding, avatar.dynamics
    assert d is not None
    write_avatar_file(
        path,
        means=g.means,
        quats=g.quats,
        log_scales=g.log_scales,
        opacity_logits=g.opacity_logits,
        sh=g.sh,
        parent_face=b.parent_face,
        offset=b.offset,
        rotation=b.rotation,
        log_scale=b.log_scale,
        rig=avatar.header["rig"],
        identity=avatar.identity,
        trainer={"name": "kw"},
        metrics={},
        background=[0, 0, 0],
        dynamics={"basis": d.basis, "mix": d.mix, "num_expression": 4, "num_pose_features": 6},
    )
    back = read_avatar(path)
    assert_same_avatar(avatar, back)
    assert back.header["trainer"] == {"name": "kw"} and back.background == (0.0, 0.0, 0.0)
    with pytest.raises(AvatarFileError, match="refusing to write"):
        write_avatar_file(
            path,
            means=g.means,
            quats=g.quats,
            log_scales=g.log_scales,
            opacity_logits=g.opacity_logits,
            sh=g.sh,
            parent_face=b.parent_face,
            offset=b.offset[:5],
            rotation=b.rotation,
            log_scale=b.log_scale,
            rig=avatar.header["rig"],
        )


def test_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    avatar, _ = make_avatar(seed=1)
    path = tmp_path / "keep.gavatar"
    write_avatar(path, avatar)
    before = path.read_bytes()
    real = avatar_module.write_ply_to

    def fail_half_way(handle, gaussians, **kw):
        buffer = io.BytesIO()
        real(buffer, gaussians, **kw)
        handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(avatar_module, "write_ply_to", fail_half_way)
    other, _ = make_avatar(seed=2, g=300)
    with pytest.raises(OSError, match="No space left"):
        write_avatar(path, other)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.gavatar"]
    assert_same_avatar(avatar, read_avatar(path))
    # A first write that fails leaves nothing at all.
    with pytest.raises(OSError):
        write_avatar(tmp_path / "new.gavatar", other)
    assert os.listdir(tmp_path) == ["keep.gavatar"]


def test_invalid_avatars_are_not_written(tmp_path: Path) -> None:
    avatar, _ = make_avatar()
    avatar.binding.parent_face[3] = avatar.header["rig"]["num_faces"]
    with pytest.raises(AvatarFileError, match="points to face"):
        write_avatar(tmp_path / "x.gavatar", avatar)
    avatar, _ = make_avatar()
    avatar.gaussians.means[2, 0] = np.nan
    with pytest.raises(AvatarFileError, match="NaN or infinite values in means"):
        write_avatar(tmp_path / "x.gavatar", avatar)
    avatar, _ = make_avatar()
    avatar.header["rig"]["family"] = "MANO"
    with pytest.raises(AvatarFileError, match="no known rig family"):
        write_avatar(tmp_path / "x.gavatar", avatar)
    assert not (tmp_path / "x.gavatar").exists()


# --- broken files ---------------------------------------------------------------------------------


def rewrite(path: Path, replace: dict[str, bytes | None]) -> None:
    """Rebuild the archive with some members replaced (bytes) or removed (None)."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    for name, data in replace.items():
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, Avatar]:
    avatar, _ = make_avatar(seed=3)
    path = tmp_path / "b.gavatar"
    write_avatar(path, avatar)
    return path, avatar


def header_of(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("header.json"))


def expect(path: Path, *fragments: str, **kw) -> None:
    with pytest.raises(AvatarFileError) as info:
        read_avatar(path, **kw)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message


def test_newer_and_invalid_versions_are_refused(written) -> None:
    path, _ = written
    newer = FORMAT_VERSION + 1
    cases = [(newer, f"version {newer}, newer than this version reads ({FORMAT_VERSION})")]
    cases += [(bad, "invalid format version") for bad in ("1", 0, True)]
    for version, fragment in cases:
        header = header_of(path)
        header["version"] = version
        rewrite(path, {"header.json": json.dumps(header).encode()})
        expect(path, fragment)


def test_not_an_avatar(tmp_path: Path, written) -> None:
    path, _ = written
    other = tmp_path / "image.gavatar"
    other.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    expect(other, "not a Gaussian avatar file")
    expect(tmp_path / "missing.gavatar", "does not exist")
    header = header_of(path)
    header["format"] = "something-else"
    rewrite(path, {"header.json": json.dumps(header).encode()})
    expect(path, "not a Gaussian avatar file")
    rewrite(path, {"header.json": b"{not json"})
    expect(path, "unreadable header.json")
    rewrite(path, {"header.json": None})
    expect(path, "no header.json")


def test_truncated_file(written) -> None:
    path, _ = written
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    expect(path, "not a Gaussian avatar file or is damaged")


def test_missing_and_damaged_members(written) -> None:
    path, _ = written
    rewrite(path, {"binding/offset.npy": None})
    expect(path, "lacks binding/offset.npy")
    path2 = path.with_name("c.gavatar")
    write_avatar(path2, make_avatar(seed=4)[0])
    with zipfile.ZipFile(path2) as zf:
        raw = zf.read("binding/rotation.npy")
    rewrite(path2, {"binding/rotation.npy": raw[: len(raw) - 40]})
    expect(path2, "damaged binding/rotation.npy")
    rewrite(path2, {"binding/rotation.npy": raw, "gaussians.ply": None})
    expect(path2, "lacks gaussians.ply")


def test_counts_and_shapes_must_agree(written) -> None:
    path, avatar = written
    g = len(avatar)
    rewrite(path, {"binding/offset.npy": npy_bytes(np.zeros((g - 1, 3), np.float32))})
    expect(path, "binding/offset of shape", f"expected ({g}, 3)")
    write_avatar(path, avatar)
    header = header_of(path)
    header["num_gaussians"] = g + 5
    rewrite(path, {"header.json": json.dumps(header).encode()})
    expect(path, f"{g} Gaussians of SH degree 2 in its PLY", f"says {g + 5}")
    write_avatar(path, avatar)
    rewrite(path, {"dynamics/mix.npy": npy_bytes(np.zeros((3, 11), np.float32))})
    expect(path, "dynamics/mix of shape (3, 11), expected (3, 10)")
    write_avatar(path, avatar)
    rewrite(path, {"binding/parent_face.npy": npy_bytes(np.zeros(g, np.float32))})
    expect(path, "non-integer parent faces")


def test_binding_past_the_mesh_and_non_finite_values(written) -> None:
    path, avatar = written
    num_faces = avatar.header["rig"]["num_faces"]
    faces = avatar.binding.parent_face.copy()
    faces[7] = num_faces + 3
    rewrite(path, {"binding/parent_face.npy": npy_bytes(faces)})
    expect(path, f"points to face {num_faces + 3} but the mesh has {num_faces} faces")
    write_avatar(path, avatar)
    expect(path, "but the mesh has 10 faces", num_faces=10)  # the scene's rig is smaller
    offsets = avatar.binding.offset.copy()
    offsets[4, 2] = np.inf
    rewrite(path, {"binding/offset.npy": npy_bytes(offsets)})
    expect(path, "offset holds NaN or infinite values")
    write_avatar(path, avatar)
    assert avatar.dynamics is not None
    basis = avatar.dynamics.basis.copy()
    basis[0, 0, 0] = np.nan
    rewrite(path, {"dynamics/basis.npy": npy_bytes(basis)})
    expect(path, "NaN or infinite values in its dynamics")
    write_avatar(path, avatar)
    with zipfile.ZipFile(path) as zf:
        ply = bytearray(zf.read("gaussians.ply"))
    ply[-4:] = np.array([np.nan], dtype="<f4").tobytes()  # last rot_3
    rewrite(path, {"gaussians.ply": bytes(ply)})
    expect(path, "gaussians.ply has NaN or infinite values in quats")


def test_check_rig(written) -> None:
    _, avatar = written
    rig = avatar.header["rig"]
    avatar.check_rig(
        "FLAME", num_vertices=rig["num_vertices"], num_faces=rig["num_faces"], model_sha256="ab" * 32
    )
    with pytest.raises(AvatarFileError, match="trained for a FLAME rig, not SMPLX"):
        avatar.check_rig("SMPLX")
    with pytest.raises(AvatarFileError, match=f"mesh with {rig['num_faces']} faces, this rig has 9976"):
        avatar.check_rig("FLAME", num_faces=9976)
    with pytest.raises(AvatarFileError, match="another FLAME model file"):
        avatar.check_rig("FLAME", model_sha256="cd" * 32)


def test_sorted_by_face_deforms_the_same(written) -> None:
    _, avatar = written
    rng = np.random.default_rng(0)
    vertices, faces = bumpy_sphere(np.random.default_rng(3))
    posed_vertices = vertices + rng.normal(0, 0.02, vertices.shape)
    ordered = avatar.sorted_by_face()
    assert np.all(np.diff(ordered.binding.parent_face) >= 0)
    order = np.argsort(avatar.binding.parent_face, kind="stable")
    assert avatar.dynamics is not None and ordered.dynamics is not None
    f = avatar.dynamics.features(rng.normal(size=4), rng.normal(size=6))
    a = bind(face_frames(posed_vertices, faces), avatar.binding, avatar.dynamics.deltas(f))
    b = bind(face_frames(posed_vertices, faces), ordered.binding, ordered.dynamics.deltas(f))
    np.testing.assert_array_equal(a.means[order], b.means)
    np.testing.assert_array_equal(ordered.gaussians.sh, avatar.gaussians.sh[order])
