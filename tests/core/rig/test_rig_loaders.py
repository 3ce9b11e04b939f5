"""Model loading: every supported file layout, and every kind of bad file, with generated files."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

from core.rig import loaders
from core.rig.errors import ModelFileError
from core.rig.lbs import forward
from core.rig.model import FLAME_JOINT_NAMES, PARENTS, SMPLH_JOINT_NAMES, SMPLX_JOINT_NAMES
from tests.fixtures.files import rig_files as rf


def _same_model(model, arrays, family, num_shape, num_expression):
    nv = arrays["v_template"].shape[0]
    np.testing.assert_array_equal(model.v_template, arrays["v_template"])
    np.testing.assert_array_equal(model.faces, arrays["f"].astype(np.int32))
    np.testing.assert_allclose(model.joint_regressor, arrays["J_regressor"], atol=0)
    np.testing.assert_array_equal(model.weights, arrays["weights"])
    np.testing.assert_array_equal(model.parents, np.array(PARENTS[family]))
    shapedirs = arrays["shapedirs"]
    np.testing.assert_array_equal(model.shape_dirs, shapedirs[:, :, :num_shape])
    np.testing.assert_array_equal(model.expr_dirs, shapedirs[:, :, num_shape : num_shape + num_expression])
    posedirs = arrays["posedirs"]
    if posedirs.ndim == 2 and posedirs.shape[1] == nv * 3:  # the (P, 3V) layout
        posedirs = posedirs.T
    np.testing.assert_array_equal(model.pose_dirs.reshape(nv * 3, -1), np.reshape(posedirs, (nv * 3, -1)))


def test_flame_2020_python2_chumpy_sparse(tmp_path: Path) -> None:
    path = rf.flame_2020_pickle(tmp_path, seed=3)
    model = loaders.load_model(path)
    assert model.family == "FLAME" and model.joint_names == FLAME_JOINT_NAMES
    _same_model(model, rf.model_arrays("FLAME", seed=3), "FLAME", 300, 100)
    assert model.source_name == "generic_model.pkl"
    assert model.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert model.hands_components_left is None
    np.testing.assert_allclose(model.extras["J"], rf.model_arrays("FLAME", seed=3)["J"])


def test_flame_2023_plain_numpy_and_protocol_0(tmp_path: Path) -> None:
    arrays = rf.model_arrays("FLAME", seed=4)
    model = loaders.load_model(rf.flame_2023_pickle(tmp_path, seed=4), family="FLAME")
    _same_model(model, arrays, "FLAME", 300, 100)
    # Protocol 0 pickles reach chumpy objects through copy_reg._reconstructor.
    old = rf.write_pickle(tmp_path / "old.pkl", arrays, chumpy_keys=("shapedirs",), protocol=0)
    _same_model(loaders.load_model(old), arrays, "FLAME", 300, 100)


def test_real_scipy_sparse_regressor(tmp_path: Path) -> None:
    sparse = pytest.importorskip("scipy.sparse")
    arrays = rf.model_arrays("FLAME", seed=5)
    data = dict(arrays, J_regressor=sparse.csc_matrix(arrays["J_regressor"]))
    path = tmp_path / "scipy.pkl"
    path.write_bytes(pickle.dumps(data, protocol=4))
    _same_model(loaders.load_model(path), arrays, "FLAME", 300, 100)
    data["J_regressor"] = sparse.coo_array(arrays["J_regressor"])
    path.write_bytes(pickle.dumps(data, protocol=5))
    _same_model(loaders.load_model(path), arrays, "FLAME", 300, 100)


@pytest.mark.parametrize("layout", ["vjp", "flat", "flat_t"])
def test_smplx_npz_and_pickle(tmp_path: Path, layout: str) -> None:
    arrays = rf.model_arrays("SMPLX", seed=6, posedirs_layout=layout)
    for path in (
        rf.write_npz(tmp_path / "SMPLX_FEMALE.npz", arrays),
        rf.write_pickle(tmp_path / "SMPLX_MALE.pkl", arrays, python2=True),
    ):
        model = loaders.load_model(path, family="SMPL-X")
        assert model.family == "SMPLX" and model.joint_names == SMPLX_JOINT_NAMES
        assert model.gender == ("female" if "FEMALE" in path.name else "male")
        _same_model(model, arrays, "SMPLX", 300, 100)
        np.testing.assert_array_equal(model.hands_components_left, arrays["hands_componentsl"])
        np.testing.assert_array_equal(model.hands_mean_right, arrays["hands_meanr"])
        assert model.extras["lmk_faces_idx"].shape == (51,)


def test_smplx_old_10_plus_10_layout(tmp_path: Path) -> None:
    arrays = rf.model_arrays("SMPLX", seed=7, num_shape=10, num_expression=10)
    model = loaders.load_model(rf.write_npz(tmp_path / "SMPLX_NEUTRAL.npz", arrays))
    assert model.num_shape == 10 and model.num_expression == 10
    _same_model(model, arrays, "SMPLX", 10, 10)


def test_smplh_pickle_and_amass_npz(tmp_path: Path) -> None:
    model = loaders.load_model(rf.smplh_pickle(tmp_path, seed=8))
    assert model.family == "SMPLH" and model.joint_names == SMPLH_JOINT_NAMES
    assert model.num_shape == 10 and model.num_expression == 0 and model.gender == "male"
    _same_model(model, rf.model_arrays("SMPLH", seed=8, num_shape=10), "SMPLH", 10, 0)
    amass = loaders.load_model(rf.smplh_amass_npz(tmp_path, gender="female", seed=9), family="SMPLH")
    assert amass.num_shape == 16 and amass.gender == "female" and amass.pose_dirs.shape[2] == 459


def test_expression_names_and_zero_padding_trimmed(tmp_path: Path) -> None:
    """The stand-ins pad their bases with zeros to the official sizes and name their expressions."""
    arrays = rf.model_arrays("FLAME", seed=10)
    arrays["shapedirs"][:, :, 20:300] = 0.0
    arrays["shapedirs"][:, :, 352:] = 0.0
    names = [f"expr{i}" for i in range(52)]
    model = loaders.load_model(
        rf.write_pickle(tmp_path / "standin.pkl", dict(arrays, expression_names=names))
    )
    assert model.num_shape == 20 and model.num_expression == 52
    assert model.expression_names == tuple(names)
    # Same vertices as with the padded bases.
    full = loaders.model_from_dict(rf.model_arrays("FLAME", seed=10), "x.pkl")
    betas = np.random.default_rng(0).normal(size=20)
    expr = np.random.default_rng(1).normal(size=52)
    padded_beta = np.concatenate([betas, np.zeros(280)])
    padded_expr = np.concatenate([expr, np.zeros(48)])
    full_arrays = rf.model_arrays("FLAME", seed=10)
    full_arrays["shapedirs"][:, :, 20:300] = 0.0
    full_arrays["shapedirs"][:, :, 352:] = 0.0
    full = loaders.model_from_dict(full_arrays, "x.pkl")
    np.testing.assert_allclose(
        forward(model, betas, expr).vertices, forward(full, padded_beta, padded_expr).vertices, atol=1e-12
    )


def test_family_detection_without_hint(tmp_path: Path) -> None:
    assert loaders.load_model(rf.smplx_npz(tmp_path)).family == "SMPLX"
    assert loaders.load_model(rf.flame_2023_pickle(tmp_path)).family == "FLAME"
    assert loaders.load_model(rf.smplh_pickle(tmp_path)).family == "SMPLH"


BROKEN_MESSAGES = {
    "truncated_pickle": "is truncated",
    "truncated_npz": "not a readable .npz archive",
    "random_binary": "neither a NumPy .npz archive nor a Python pickle",
    "empty": "is empty",
    "missing_keys": "lacks 'weights'",
    "wrong_shape": "'weights' of shape (60, 4)",
    "wrong_posedirs": "'posedirs' of shape (60, 3, 30)",
    "bad_faces": "index vertex 10000 of only 60 vertices",
    "nan": "non-finite values",
    "smpl": "is a SMPL model (24 joints, 60 vertices), not a FLAME model",
    "smplx_as_flame": "is a SMPL-X model (55 joints, 60 vertices), not a FLAME model",
    "not_a_dict": "holds a list",
    "chumpy_expression": "unevaluated chumpy expression (chumpy.ch_ops.add)",
}


@pytest.mark.parametrize("kind", sorted(BROKEN_MESSAGES))
def test_broken_files_give_one_clear_sentence(tmp_path: Path, kind: str) -> None:
    path = rf.broken_files(tmp_path)[kind]
    with pytest.raises(ModelFileError) as info:
        loaders.load_model(path, family="FLAME")
    message = str(info.value)
    assert message.startswith(f"Model file '{path}' ")
    assert BROKEN_MESSAGES[kind] in message
    assert message.count(". ") == 0 and message.endswith(".")
    assert info.value.path == str(path)


def test_smpl_without_family_hint_is_refused(tmp_path: Path) -> None:
    path = rf.broken_files(tmp_path)["smpl"]
    with pytest.raises(ModelFileError, match="this add-on reads FLAME, SMPL-X and SMPL-H"):
        loaders.load_model(path)


def test_missing_path_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        loaders.load_model(tmp_path / "nope.pkl")
    with pytest.raises(ModelFileError, match="is a folder"):
        loaders.load_model(tmp_path)


def test_pickle_cannot_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = rf.malicious_pickle(tmp_path / "evil.pkl", marker)
    with pytest.raises(ModelFileError, match="was refused: it names the Python object"):
        loaders.load_model(path)
    assert not marker.exists()


def test_npz_object_member_cannot_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    arrays = rf.model_arrays("SMPLX")
    path = tmp_path / "evil.npz"
    evil = np.empty((), dtype=object)
    evil[()] = rf._MakeFolder(marker)
    np.savez(
        path,
        **{k: (np.array(v, dtype=object) if isinstance(v, dict) else v) for k, v in arrays.items()},
        bad=evil,
    )
    with pytest.raises(ModelFileError, match="was refused"):
        loaders.load_model(path)
    assert not marker.exists()


def test_unsorted_kinematic_tree_is_refused(tmp_path: Path) -> None:
    arrays = rf.model_arrays("FLAME")
    arrays["kintree_table"] = np.array([[2**32 - 1, 2, 0, 1, 1], [0, 1, 2, 3, 4]])
    with pytest.raises(ModelFileError, match="a joint comes before its parent"):
        loaders.load_model(rf.write_pickle(tmp_path / "bad_tree.pkl", arrays))
