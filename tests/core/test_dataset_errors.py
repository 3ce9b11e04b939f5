"""Broken datasets: every problem is one DatasetError naming the file and the reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.datasets import DatasetError, image_size, load_image, load_mask, open_dataset
from tests.fixtures import dataset as fx


def _error(path: Path, **kwargs: object) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        open_dataset(path, **kwargs)  # type: ignore[arg-type]
    return info.value


def _edit_json(path: Path, edit: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_a_folder_of_something_else(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    err = _error(tmp_path)
    assert "not a dataset folder" in str(err) and str(tmp_path) in str(err)
    assert "does not exist" in str(_error(tmp_path / "nope"))
    truth = fx.write_avatarrex(tmp_path / "rex")
    assert "unknown dataset format" in str(_error(truth.root, format="colmap"))


def test_gaussian_avatars_missing_image(tmp_path: Path) -> None:
    truth = fx.write_gaussian_avatars(tmp_path / "ga")
    (truth.root / "images" / "00001_01.png").unlink()
    err = _error(truth.root)
    assert err.path and err.path.endswith("00001_01.png") and "missing" in err.reason


def test_gaussian_avatars_nan_camera(tmp_path: Path) -> None:
    truth = fx.write_gaussian_avatars(tmp_path / "ga")
    path = truth.root / "transforms_val.json"
    _edit_json(path, lambda d: d["frames"][1]["transform_matrix"][0].__setitem__(3, float("nan")))
    err = _error(truth.root)
    assert err.path == str(path) and "frame 1 transform_matrix contains NaN" in err.reason


def test_gaussian_avatars_matrix_that_is_no_rotation(tmp_path: Path) -> None:
    truth = fx.write_gaussian_avatars(tmp_path / "ga")
    path = truth.root / "transforms_train.json"
    _edit_json(path, lambda d: d["frames"][0]["transform_matrix"][0].__setitem__(0, 3.0))
    assert "not a rotation matrix" in _error(truth.root).reason


def test_gaussian_avatars_wrong_parameter_shape(tmp_path: Path) -> None:
    truth = fx.write_gaussian_avatars(tmp_path / "ga")
    path = truth.root / "flame_param" / "00002.npz"
    params = dict(np.load(path))
    params["eyes_pose"] = np.zeros((1, 5))
    np.savez(path, **params)
    err = _error(truth.root)
    assert err.path == str(path) and err.reason == "eyes_pose has 5 values, expected 6"


def test_gaussian_avatars_missing_parameter_and_truncated_npz(tmp_path: Path) -> None:
    truth = fx.write_gaussian_avatars(tmp_path / "ga")
    path = truth.root / "flame_param" / "00001.npz"
    params = dict(np.load(path))
    del params["jaw_pose"]
    np.savez(path, **params)
    assert "lacks FLAME parameter(s) jaw_pose" in _error(truth.root).reason
    path.write_bytes(path.read_bytes()[:100])
    err = _error(truth.root)
    assert err.path == str(path) and "not a readable .npz" in err.reason


def test_npz_with_pickled_objects_is_refused(tmp_path: Path) -> None:
    truth = fx.write_gaussian_avatars(tmp_path / "ga")
    path = truth.root / "flame_param" / "00000.npz"
    np.savez(path, shape=np.array([{"evil": 1}], dtype=object))
    assert "pickled" in _error(truth.root).reason


def test_gaussian_avatars_bad_json_and_unknown_camera_index(tmp_path: Path) -> None:
    truth = fx.write_gaussian_avatars(tmp_path / "ga")
    path = truth.root / "transforms_test.json"
    text = path.read_text()
    path.write_text(text[:-10])
    assert "not valid JSON" in _error(truth.root).reason
    path.write_text(text)
    _edit_json(path, lambda d: d["frames"][0].__setitem__("camera_index", 9))
    assert "camera_index 9 not listed" in _error(truth.root).reason


def test_unreadable_and_truncated_images(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    text = tmp_path / "text.png"
    text.write_text("hi")
    with pytest.raises(DatasetError, match="not a PNG or JPEG"):
        image_size(text)
    with pytest.raises(DatasetError) as info:
        load_image(bad)
    assert info.value.path == str(bad) and "cannot decode" in info.value.reason
    with pytest.raises(DatasetError, match="missing"):
        load_mask(tmp_path / "absent.png")
    truth = fx.write_avatarrex(tmp_path / "rex")
    jpg = next((truth.root / "22400000").glob("*.jpg"))
    jpg.write_bytes(jpg.read_bytes()[:20])
    with pytest.raises(DatasetError, match="truncated"):
        load_image(jpg)


def test_avatarrex_more_images_than_parameters(tmp_path: Path) -> None:
    truth = fx.write_avatarrex(tmp_path / "rex", frames=4)
    seq = dict(np.load(truth.root / "smpl_params.npz"))
    np.savez(truth.root / "smpl_params.npz", **{k: (v if k == "betas" else v[:2]) for k, v in seq.items()})
    err = _error(truth.root)
    assert err.path.endswith("smpl_params.npz")
    assert err.reason == "has parameters for 2 frames but there are images of frame 3"


def test_smplx_mismatched_rows_and_pca_hands(tmp_path: Path) -> None:
    truth = fx.write_thuman4(tmp_path / "th", frames=4)
    path = truth.root / "smpl_params.npz"
    seq = dict(np.load(path))
    np.savez(path, **{**seq, "body_pose": seq["body_pose"][:3]})
    assert _error(truth.root).reason == "body_pose has 3 frames but global_orient has 4"
    np.savez(path, **{**seq, "left_hand_pose": seq["left_hand_pose"][:, :12]})
    assert "PCA hand poses are not supported" in _error(truth.root).reason
    seq["transl"][2, 1] = np.inf
    np.savez(path, **seq)
    assert _error(truth.root).reason == "transl contains NaN or infinite values (frame 2)"


def test_thuman4_calibration_with_wrong_shapes(tmp_path: Path) -> None:
    truth = fx.write_thuman4(tmp_path / "th")
    path = truth.root / "calibration.json"
    _edit_json(path, lambda d: d["cam01"].__setitem__("R", [1, 0, 0, 0, 1, 0]))
    err = _error(truth.root)
    assert err.path == str(path) and err.reason == "camera cam01 R has shape (6,), expected (3, 3)"


def test_imavatar_bad_intrinsics_and_pose(tmp_path: Path) -> None:
    truth = fx.write_imavatar(tmp_path / "im")
    path = truth.root / "flame_params.json"
    original = path.read_text()
    _edit_json(path, lambda d: d.__setitem__("intrinsics", [abs(v) for v in d["intrinsics"]]))
    assert "fx stored negated" in _error(truth.root).reason
    path.write_text(original)
    _edit_json(path, lambda d: d["frames"][4].__setitem__("pose", [0.0] * 14))
    assert _error(truth.root).reason == "frame 4 pose has 14 values, expected 15"


def test_gaussian_head_avatar_broken_camera_file(tmp_path: Path) -> None:
    truth = fx.write_gaussian_head_avatar(tmp_path / "gha")
    path = next((truth.root / "cameras" / "0001").glob("*.npz"))
    np.savez(path, extrinsic=np.eye(4)[:3])
    err = _error(truth.root)
    assert err.path == str(path) and err.reason == "lacks 'intrinsic'"
    np.savez(path, extrinsic=np.eye(4)[:3], intrinsic=np.diag([-5.0, 5.0, 1.0]))
    assert "non-positive focal length" in _error(truth.root).reason


def test_actorshq_missing_column(tmp_path: Path) -> None:
    truth = fx.write_actorshq(tmp_path / "ahq")
    path = truth.root / "4x" / "calibration.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines))
    assert _error(truth.root).reason == "lacks column(s) py"


def test_dnerf_without_field_of_view(tmp_path: Path) -> None:
    truth = fx.write_dnerf(tmp_path / "dn")
    _edit_json(truth.root / "transforms_train.json", lambda d: d.pop("camera_angle_x"))
    # Without camera_angle_x nothing marks the time-conditioned file apart from the times.
    err = _error(truth.root, format="dnerf")
    assert err.reason == "lacks 'camera_angle_x'"


def test_unknown_validation_camera(tmp_path: Path) -> None:
    truth = fx.write_avatarrex(tmp_path / "rex")
    err = _error(truth.root, val_cameras=["nope"])
    assert "validation camera(s) nope are not in the dataset" in err.reason
