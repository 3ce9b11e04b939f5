"""Dataset parameter dictionaries <-> forward() inputs, one frame and sequences, and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.rig import loaders, params
from core.rig.errors import ParamsError
from core.rig.lbs import forward
from tests.fixtures.files import rig_files as rf


@pytest.fixture(scope="module")
def flame(tmp_path_factory):
    return loaders.load_model(rf.flame_2023_pickle(tmp_path_factory.mktemp("flame")))


@pytest.fixture(scope="module")
def smplx_model(tmp_path_factory):
    return loaders.load_model(rf.smplx_npz(tmp_path_factory.mktemp("smplx")))


@pytest.fixture(scope="module")
def smplh_model(tmp_path_factory):
    return loaders.load_model(rf.smplh_amass_npz(tmp_path_factory.mktemp("smplh")))


def _flame_frame(rng, frames=None, nv=60):
    lead = () if frames is None else (frames,)
    return {
        "shape": rng.normal(size=300).astype(np.float32),
        "expr": rng.normal(size=lead + (100,)).astype(np.float32),
        "rotation": rng.normal(scale=0.3, size=lead + (3,)).astype(np.float32),
        "neck_pose": rng.normal(scale=0.3, size=lead + (3,)).astype(np.float32),
        "jaw_pose": rng.normal(scale=0.3, size=lead + (3,)).astype(np.float32),
        "eyes_pose": rng.normal(scale=0.3, size=lead + (6,)).astype(np.float32),
        "translation": rng.normal(size=lead + (3,)).astype(np.float32),
    }


def test_flame_gaussianavatars_frame_file(flame) -> None:
    rng = np.random.default_rng(0)
    d = _flame_frame(rng, frames=1)
    d["static_offset"] = rng.normal(scale=0.001, size=(1, 60, 3)).astype(np.float32)
    rp = params.params_from_dict(flame, d)
    assert rp.num_frames == 1 and rp.is_sequence and not rp.warnings
    pose = np.concatenate([d["rotation"][0], d["neck_pose"][0], d["jaw_pose"][0], d["eyes_pose"][0]])
    expected = forward(
        flame, d["shape"], d["expr"][0], pose, d["translation"][0], vertex_offsets=d["static_offset"][0]
    ).vertices
    np.testing.assert_allclose(params.forward_params(flame, rp).vertices, expected, atol=1e-12)
    back = params.params_to_dict(flame, rp)
    assert set(back) == set(d)
    for key, value in d.items():
        assert back[key].shape == value.shape, key
        np.testing.assert_allclose(back[key], value, atol=1e-6)


def test_flame_single_frame_without_axis_and_full_pose(flame) -> None:
    rng = np.random.default_rng(1)
    d = _flame_frame(rng)
    rp = params.params_from_dict(flame, d)
    assert rp.num_frames == 1 and not rp.is_sequence
    back = params.params_to_dict(flame, rp)
    assert back["expr"].shape == (100,) and back["eyes_pose"].shape == (6,)
    full = {
        "shape": d["shape"],
        "pose": np.concatenate([d[k] for k in ("rotation", "neck_pose", "jaw_pose", "eyes_pose")]),
    }
    np.testing.assert_allclose(params.params_from_dict(flame, full).pose, rp.pose, atol=0)


def test_flame_sequence_round_trip_and_vertices(flame) -> None:
    rng = np.random.default_rng(2)
    d = _flame_frame(rng, frames=7)
    d["dynamic_offset"] = rng.normal(scale=0.001, size=(7, 60, 3))
    rp = params.params_from_dict(flame, d)
    assert rp.num_frames == 7 and rp.vertex_offsets.shape == (7, 60, 3)
    seq = params.forward_sequence(flame, rp)
    assert seq.shape == (7, 60, 3)
    np.testing.assert_allclose(seq[4], params.forward_params(flame, rp, 4).vertices)
    back = params.params_to_dict(flame, rp)
    np.testing.assert_allclose(back["dynamic_offset"], d["dynamic_offset"], atol=1e-6)
    np.testing.assert_allclose(back["jaw_pose"], d["jaw_pose"], atol=1e-6)


def test_flame_teeth_offsets_cut_and_other_meshes_refused(flame) -> None:
    rng = np.random.default_rng(3)
    d = _flame_frame(rng, frames=1)
    d["static_offset"] = np.zeros((1, 60 + 120, 3))
    rp = params.params_from_dict(flame, d)
    assert rp.vertex_offsets.shape == (1, 60, 3) and "120 beyond" in rp.warnings[0]
    for count in (50, 61, 60 + 119, 5023 + 120):  # short, or long but not by the teeth: another mesh
        d["static_offset"] = np.zeros((1, count, 3))
        with pytest.raises(ParamsError, match=f"offsets for {count} vertices but the model has 60"):
            params.params_from_dict(flame, d)


def test_smplx_animatable_gaussians_sequence(smplx_model) -> None:
    rng = np.random.default_rng(4)
    t = 5
    d = {
        "betas": rng.normal(size=(1, 10)),
        "global_orient": rng.normal(scale=0.3, size=(t, 3)),
        "transl": rng.normal(size=(t, 3)),
        "body_pose": rng.normal(scale=0.3, size=(t, 63)),
        "jaw_pose": rng.normal(scale=0.3, size=(t, 3)),
        "expression": rng.normal(size=(t, 10)),
        "left_hand_pose": rng.normal(scale=0.3, size=(t, 45)),
        "right_hand_pose": rng.normal(scale=0.3, size=(t, 45)),
    }
    rp = params.params_from_dict(smplx_model, d)
    assert rp.num_frames == t and rp.betas.shape == (300,) and rp.expression.shape == (t, 100)
    np.testing.assert_array_equal(rp.pose[:, 23:25], 0.0)  # eyes missing -> zeros
    full = np.concatenate(
        [
            d["global_orient"],
            d["body_pose"],
            d["jaw_pose"],
            np.zeros((t, 6)),
            d["left_hand_pose"],
            d["right_hand_pose"],
        ],
        axis=1,
    )
    np.testing.assert_allclose(rp.pose.reshape(t, -1), full)
    amass = params.params_from_dict(
        smplx_model, {"poses": full, "trans": d["transl"], "betas": d["betas"][0]}
    )
    np.testing.assert_allclose(amass.pose, rp.pose)
    back = params.params_to_dict(smplx_model, rp, shape_size=10, expression_size=10)
    assert back["betas"].shape == (1, 10) and back["body_pose"].shape == (t, 63)
    assert back["leye_pose"].shape == (t, 3)
    np.testing.assert_allclose(back["right_hand_pose"], d["right_hand_pose"], atol=1e-6)


def test_smplh_amass_poses(smplh_model) -> None:
    rng = np.random.default_rng(5)
    poses = rng.normal(scale=0.2, size=(4, 156))
    rp = params.params_from_dict(
        smplh_model, {"poses": poses, "trans": np.zeros((4, 3)), "betas": rng.normal(size=16)}
    )
    np.testing.assert_allclose(rp.pose.reshape(4, -1), poses)
    back = params.params_to_dict(smplh_model, rp)
    assert set(back) == {"betas", "global_orient", "body_pose", "left_hand_pose", "right_hand_pose", "transl"}


def test_coefficients_beyond_the_model_are_reported(smplh_model) -> None:
    rp = params.params_from_dict(smplh_model, {"betas": np.ones(20)})
    assert rp.betas.shape == (16,) and "20 coefficients; the model uses 16" in rp.warnings[0]


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"body_pose": np.zeros((5, 60))}, "'body_pose' has shape (5, 60); expected (63,) or (21, 3)"),
        ({"jaw_pose": np.zeros((4, 3))}, "'jaw_pose' has 4 frames but 'body_pose' has 5"),
        ({"poses": np.zeros((5, 165))}, "both 'poses' and 'global_orient'"),
        ({"betas": np.arange(20.0).reshape(2, 10)}, "'betas' changes from frame to frame"),
        ({"transl": np.full((5, 3), np.nan)}, "'transl' has non-finite values"),
        ({"expression": np.zeros((5, 2, 10))}, "'expression' has shape (5, 2, 10)"),
    ],
)
def test_wrong_shapes_are_clear(smplx_model, update, message) -> None:
    d = {"global_orient": np.zeros((5, 3)), "body_pose": np.zeros((5, 63)), "transl": np.zeros((5, 3))}
    d.update(update)
    with pytest.raises(ParamsError) as info:
        params.params_from_dict(smplx_model, d)
    assert message in str(info.value)


def test_wrong_family_and_no_keys(flame, smplx_model) -> None:
    with pytest.raises(ParamsError, match="none of the FLAME parameter keys"):
        params.params_from_dict(flame, {"betas": np.zeros(10)})
    with pytest.raises(ParamsError, match="SMPLX parameters cannot drive a FLAME model"):
        params.params_from_dict(flame, {"shape": np.zeros(10)}, family="SMPL-X")


def test_params_file_round_trip_is_atomic(tmp_path: Path, flame) -> None:
    rng = np.random.default_rng(6)
    rp = params.params_from_dict(flame, _flame_frame(rng, frames=3))
    path = params.write_params_file(tmp_path / "seq", params.params_to_dict(flame, rp))
    assert path.name == "seq.npz" and [p.name for p in tmp_path.iterdir()] == ["seq.npz"]
    again = params.params_from_dict(flame, params.read_params_file(path))
    np.testing.assert_allclose(again.pose, rp.pose, atol=1e-6)


def test_params_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="does not exist"):
        params.read_params_file(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ParamsError, match=r"not a readable \.npz archive"):
        params.read_params_file(bad)
    obj = tmp_path / "obj.npz"
    np.savez(obj, pose=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ParamsError, match="cannot be read without pickle"):
        params.read_params_file(obj)


def test_parameter_keys_match_design() -> None:
    assert params.parameter_keys("FLAME") == (
        "shape", "rotation", "neck_pose", "jaw_pose", "eyes_pose", "translation", "expr",
        "static_offset", "dynamic_offset",
    )  # fmt: skip
    assert set(params.parameter_keys("SMPLX")) == {
        "betas", "global_orient", "transl", "body_pose", "jaw_pose", "leye_pose", "reye_pose",
        "left_hand_pose", "right_hand_pose", "expression",
    }  # fmt: skip
