"""Every reader on a fixture of its format: detection, cameras, splits, parameters, pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.datasets import detect_format, load_image, load_mask, open_dataset
from core.rig.lbs import axis_angle_to_matrix, forward
from tests.fixtures import dataset as fx

FORMATS = sorted(fx.WRITERS)


def _write(fmt: str, root: Path) -> fx.Truth:
    return fx.WRITERS[fmt](root / fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_format_is_detected_from_the_folder(tmp_path: Path, fmt: str) -> None:
    truth = _write(fmt, tmp_path)
    assert detect_format(truth.root) == fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_cameras_splits_and_the_known_point(tmp_path: Path, fmt: str) -> None:
    truth = _write(fmt, tmp_path)
    ds = open_dataset(truth.root)
    assert ds.format == fmt
    got = {(f.camera_id, f.timestep): f for f in ds.frames}
    assert set(got) == set(truth.cameras)
    for key, (w2c, k, width, height) in truth.cameras.items():
        frame = got[key]
        np.testing.assert_allclose(frame.camera.world_to_camera, w2c, atol=1e-9)
        np.testing.assert_allclose(frame.camera.K, k, atol=1e-9)
        assert (frame.camera.width, frame.camera.height) == (width, height)
        # The known point lands on the known pixel, by the reader's camera.
        np.testing.assert_allclose(frame.camera.project(fx.POINT[None])[0], truth.pixel(*key), atol=1e-6)
        assert frame.split == truth.splits[key], key
    for split in ("train", "val", "test"):
        assert len(ds.split(split)) == sum(1 for s in truth.splits.values() if s == split)


@pytest.mark.parametrize("fmt", FORMATS)
def test_images_show_the_dot_at_the_projected_pixel(tmp_path: Path, fmt: str) -> None:
    truth = _write(fmt, tmp_path)
    ds = open_dataset(truth.root)
    for frame in ds.frames[:4]:
        rgb = load_image(frame.image_path, background=(0.0, 0.0, 0.0))
        assert rgb.shape == (frame.camera.height, frame.camera.width, 3) and rgb.dtype == np.float32
        bright = rgb.mean(-1) > 0.8
        ys, xs = np.nonzero(bright)
        centre = np.array([xs.mean(), ys.mean()])
        expected = truth.pixel(frame.camera_id, frame.timestep)
        assert np.abs(centre - np.round(expected)).max() <= 0.6, (frame.image_path, centre, expected)
        if frame.mask_path is not None:
            mask = load_mask(frame.mask_path)
            assert mask.shape == rgb.shape[:2]
            v, u = np.round(expected[::-1]).astype(int)
            if fmt == "dnerf":  # mask from the image's alpha: the dot is the only opaque part
                assert mask[v, u] > 0.9 and mask.mean() < 0.1
            else:
                assert mask[v, u] > 0.9 and mask[0, 0] < 0.1


@pytest.mark.parametrize("fmt", ["gaussian_avatars", "imavatar", "avatarrex", "thuman4", "actorshq"])
def test_parameters_come_back_per_timestep(tmp_path: Path, fmt: str) -> None:
    truth = _write(fmt, tmp_path)
    ds = open_dataset(truth.root)
    assert ds.rig_family == truth.family and ds.rig_status == "ok" and ds.trainable
    assert sorted(ds.rig_params) == sorted(truth.params)
    for t, expected in truth.params.items():
        got = ds.rig_params[t]
        assert set(got) == set(expected)
        for key, value in expected.items():
            np.testing.assert_allclose(got[key], value, atol=1e-12, err_msg=f"{fmt} t={t} {key}")
    for frame in ds.frames:
        assert frame.params is ds.rig_params[frame.timestep]
    seq = ds.sequence()
    first_key = "expr" if truth.family == "FLAME" else "body_pose"
    assert seq[first_key].shape[0] == len(truth.params)


def test_gaussian_avatars_shares_static_offset_and_reads_identity(tmp_path: Path) -> None:
    truth = fx.write_gaussian_avatars(tmp_path / "ga", num_vertices=77)
    ds = open_dataset(truth.root)
    offsets = [p["static_offset"] for p in ds.rig_params.values()]
    assert all(o is offsets[0] for o in offsets) and offsets[0].shape == (77, 3)
    assert ds.identity["shape"].shape == (300,)
    expected = "gaussian_avatars: 12 images (train 6, val 3, test 3), 3 cameras, 4 timesteps, FLAME"
    assert ds.summary() == expected


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_gaussian_avatars_with_jpeg_images_and_paths_without_extension(tmp_path: Path, ext: str) -> None:
    truth = fx.write_gaussian_avatars(tmp_path / "ga", image_ext=ext, omit_extension=True)
    ds = open_dataset(truth.root)
    assert all(f.image_path.suffix == ext for f in ds.frames)


def test_gaussian_avatars_renumbers_clashing_timesteps(tmp_path: Path) -> None:
    import json

    truth = fx.write_gaussian_avatars(tmp_path / "ga")
    test_file = truth.root / "transforms_test.json"
    data = json.loads(test_file.read_text())
    for frame in data["frames"]:
        frame["timestep_index"] = 0  # clashes with train's timestep 0, which uses another npz
    test_file.write_text(json.dumps(data))
    ds = open_dataset(truth.root)
    assert any("renumbered" in n for n in ds.notes)
    test_steps = {f.timestep for f in ds.split("test")}
    assert len(test_steps) == 1 and test_steps.isdisjoint({f.timestep for f in ds.split("train")})
    np.testing.assert_allclose(ds.rig_params[test_steps.pop()]["expr"], truth.params[3]["expr"])


def test_imavatar_options_choose_the_test_frames(tmp_path: Path) -> None:
    truth = fx.write_imavatar(tmp_path / "im", frames=10)
    assert len(open_dataset(truth.root, test_frames=3).split("test")) == 3
    assert len(open_dataset(truth.root, test_frames=0.5).split("test")) == 5
    picked = open_dataset(truth.root, test_frames=[0, 4])
    assert sorted(f.timestep for f in picked.split("test")) == [0, 4]
    assert not open_dataset(truth.root).camera_is_static("0")  # the fixture's camera moves


def test_imavatar_sequences_in_subfolders(tmp_path: Path) -> None:
    fx.write_imavatar(tmp_path / "subject" / "subject" / "MVI_1810", frames=4)
    fx.write_imavatar(tmp_path / "subject" / "subject" / "MVI_1812", frames=3)
    from core.datasets import ReadOptions

    ds = open_dataset(tmp_path / "subject", options=ReadOptions(test_sequences=["MVI_1812"]))
    assert len(ds.frames) == 7 and len(ds.split("test")) == 3
    assert {f.image_path.parent.parent.name for f in ds.split("test")} == {"MVI_1812"}


def test_gaussian_head_avatar_bfm_fits_import_cameras_but_report_the_rig(tmp_path: Path) -> None:
    truth = fx.write_gaussian_head_avatar(tmp_path / "gha", fit="BFM")
    ds = open_dataset(truth.root)
    assert ds.rig_status == "unsupported" and not ds.trainable
    assert "BFM" in ds.rig_message and "not FLAME" in ds.rig_message
    assert all(f.params is None for f in ds.frames) and len(ds.frames) == 9


def test_gaussian_head_avatar_flame_fits_convert_to_flame_parameters(tmp_path: Path) -> None:
    """The fit places FLAME (zero global rotation) as scale * R v + T about the origin; the reader's
    FLAME parameters must give the same mesh in the rescaled world (world / scale)."""
    scale = 1.7
    truth = fx.write_gaussian_head_avatar(tmp_path / "gha", fit="FLAME", scale=scale)
    without_model = open_dataset(truth.root)
    assert without_model.rig_status == "unsupported" and "rig_model" in without_model.rig_message
    model = fx.tiny_flame_model()
    ds = open_dataset(truth.root, rig_model=model)
    assert ds.rig_status == "ok" and ds.rig_family == "FLAME"
    # Cameras were rescaled: the known point still lands on its pixel (checked against truth).
    for frame in ds.frames:
        w2c, _, _, _ = truth.cameras[(frame.camera_id, frame.timestep)]
        np.testing.assert_allclose(frame.camera.world_to_camera, w2c, atol=1e-9)
    for t, raw in truth.params.items():
        p = ds.rig_params[t]
        exp, pose = raw["gha_exp"], raw["gha_pose"]
        local_pose = np.zeros((5, 3))
        local_pose[2] = exp[50:53]
        local_pose[3:5] = exp[53:59].reshape(2, 3)
        fit_mesh = forward(model, np.linspace(-1, 1, 100), exp[:50], local_pose).vertices
        fit_world = scale * fit_mesh @ axis_angle_to_matrix(pose[:3]).T + pose[3:]
        full_pose = np.concatenate([p["rotation"], p["neck_pose"], p["jaw_pose"], p["eyes_pose"]])
        ours = forward(model, p["shape"], p["expr"], full_pose, p["translation"]).vertices
        np.testing.assert_allclose(ours, fit_world / scale, atol=1e-10)


def test_actorshq_scale_option(tmp_path: Path) -> None:
    truth = fx.write_actorshq(tmp_path / "ahq", scale="2x")
    from core.datasets import DatasetError, ReadOptions

    assert open_dataset(truth.root).notes[0] == "ActorsHQ scale 2x"
    with pytest.raises(DatasetError, match="available: 2x"):
        open_dataset(truth.root, options=ReadOptions(scale="4x"))


def test_avatarrex_splits_file_and_overrides(tmp_path: Path) -> None:
    splits = {"val_cameras": ["22400001"], "test_timesteps": [0, 3]}
    truth = fx.write_avatarrex(tmp_path / "rex", frames=5, splits=splits)
    ds = open_dataset(truth.root)
    assert {f.camera_id for f in ds.split("val")} == {"22400001"}
    assert {f.timestep for f in ds.split("test")} == {0, 3}
    overridden = open_dataset(truth.root, val_cameras=["22400000"], test_frames=1)
    assert {f.camera_id for f in overridden.split("val")} == {"22400000"}
    assert {f.timestep for f in overridden.split("test")} == {4}


def test_dnerf_is_readable_but_not_trainable_as_a_rigged_avatar(tmp_path: Path) -> None:
    truth = fx.write_dnerf(tmp_path / "dnerf")
    ds = open_dataset(truth.root)
    assert ds.rig_status == "none" and not ds.trainable and "fit --rig none" in ds.rig_message
    times = [f.time for f in ds.frames]
    assert times == sorted(times) and times[0] == 0.0 and times[-1] == 1.0


def test_a_file_inside_the_dataset_opens_its_folder(tmp_path: Path) -> None:
    truth = fx.write_avatarrex(tmp_path / "rex")
    assert open_dataset(truth.root / "calibration_full.json").root == truth.root.resolve()
