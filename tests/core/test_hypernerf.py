"""The HyperNeRF / Nerfies reader on captures written at test time (tests/fixtures/hypernerf.py):
Nerfies cameras (world-to-camera orientation, centre, half-pixel principal point) moved into the
scene box, times from warp ids, held-out views vs held-out times, the image scale it picks, the
lens-distortion note, and one clear sentence for each kind of broken or hostile capture."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.datasets import SEQUENCE_FORMATS, DatasetError, detect_format, open_dataset
from core.datasets.image_io import image_size
from tests.fixtures.hypernerf import CENTRE, SCALE, sfm_points, write_hypernerf


@pytest.fixture(scope="module")
def vrig(tmp_path_factory: pytest.TempPathFactory):
    return write_hypernerf(tmp_path_factory.mktemp("hypernerf") / "vrig-chicken", frames=5)


def _refusal(root: Path) -> str:
    with pytest.raises(DatasetError) as info:
        open_dataset(root)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text and len(text) < 400
    return text


def _copy(root: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(root, tmp_path / "copy"))


def test_a_vrig_capture_reads_the_second_phone_as_held_out_views(vrig) -> None:
    assert detect_format(vrig.root) == "hypernerf" and "hypernerf" in SEQUENCE_FORMATS
    ds = open_dataset(vrig.root)
    assert ds.format == "hypernerf" and ds.rig_status == "none" and not ds.trainable
    assert [f.image_path.stem for f in ds.split("train")] == vrig.train_ids
    assert [f.image_path.stem for f in ds.split("val")] == vrig.val_ids and not ds.split("test")
    assert ds.camera_ids == ["camera0", "camera1"]  # the two phones, each a moving camera
    assert ds.timesteps == list(range(5))
    for f in ds.frames:
        assert f.time == pytest.approx(f.timestep / 4)
    assert any("rgb/1x" in note for note in ds.notes)
    # The capture's SfM points come moved into the scene box with the cameras.
    assert ds.points is not None
    np.testing.assert_allclose(ds.points, (sfm_points().astype(np.float64) - CENTRE) * SCALE, atol=1e-6)


def test_cameras_project_the_moved_world_where_the_capture_saw_it(vrig) -> None:
    ds = open_dataset(vrig.root)
    rng = np.random.default_rng(3)
    points = rng.uniform(-0.8, 0.8, size=(6, 3))
    for f in ds.frames:
        cam = f.camera
        assert (cam.width, cam.height) == image_size(f.image_path) == (96, 64)
        moved = (points - CENTRE) * SCALE  # scene.json brings the world into the unit box
        local = moved @ cam.world_to_camera[:3, :3].T + cam.world_to_camera[:3, 3]
        uv = local[:, :2] / local[:, 2:] @ np.diag([cam.fx, cam.fy]) + [cam.cx, cam.cy]
        truth = np.array([vrig.pixel(f.image_path.stem, p, cam.width) for p in points])
        np.testing.assert_allclose(uv, truth, atol=1e-6)
        # The moved camera centre is the capture's, moved the same way.
        np.testing.assert_allclose(
            cam.center, (vrig.c2ws[f.image_path.stem][:3, 3] - CENTRE) * SCALE, atol=1e-9
        )


def test_an_interp_capture_holds_out_times(tmp_path: Path) -> None:
    truth = write_hypernerf(tmp_path / "interp", frames=5, mode="interp", scene=False)
    ds = open_dataset(truth.root)
    assert not ds.split("val")
    assert [f.timestep for f in ds.split("train")] == [0, 2, 4]
    assert [f.timestep for f in ds.split("test")] == [1, 3]
    f = ds.split("train")[0]  # without scene.json the world is the capture's own
    np.testing.assert_allclose(f.camera.center, truth.c2ws[f.image_path.stem][:3, 3], atol=1e-9)


def test_the_finest_scale_that_fits_is_read_and_distortion_is_noted(tmp_path: Path) -> None:
    truth = write_hypernerf(
        tmp_path / "big",
        frames=2,
        mode="interp",
        full_size=(3072, 2048),
        scales=(64,),
        radial=(0.02, 0.0, 0.0),
    )
    for factor in (2, 4):  # headers are all the reader looks at: plain images of the right size
        folder = truth.root / "rgb" / f"{factor}x"
        folder.mkdir()
        for image_id in truth.train_ids + truth.val_ids:
            Image.new("RGB", (3072 // factor, 2048 // factor)).save(folder / f"{image_id}.png")
    ds = open_dataset(truth.root)
    assert {image_size(f.image_path) for f in ds.frames} == {(768, 512)}  # 4x: 2x is over 1352 px
    cam = ds.frames[0].camera
    assert cam.fx == pytest.approx(40.0 * 3072 / 48 / 4)
    assert cam.cx == pytest.approx(3072 / 2 / 4 - 0.5) and cam.cy == pytest.approx(2048 / 2 / 4 - 0.5)
    note = next(n for n in ds.notes if "distortion" in n)
    assert "px" in note


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _breakages(vrig) -> dict[str, tuple[object, str]]:
    """name -> (what it does to a copy of the capture, what the refusal must say)."""
    first, second = vrig.train_ids[0], vrig.train_ids[1]
    camera = lambda root, image_id: root / "camera" / f"{image_id}.json"  # noqa: E731
    image = lambda root, image_id: root / "rgb" / "1x" / f"{image_id}.png"  # noqa: E731

    def nan_position(root: Path) -> None:
        path = camera(root, first)
        path.write_text(path.read_text().replace('"position": [', '"position": [NaN, '))

    def no_scales(root: Path) -> None:
        shutil.rmtree(root / "rgb" / "1x")
        shutil.rmtree(root / "rgb" / "2x")

    bent = [[1, 0, 0], [0, 2, 0], [0, 0, 1]]
    return {
        "traversal": (lambda r: _edit_json(r / "dataset.json", lambda d: d["train_ids"].append("../../x")),
                      "not a plain image id"),
        "overlap": (lambda r: _edit_json(r / "dataset.json", lambda d: d["val_ids"].append(first)), "both"),
        "no_time": (lambda r: _edit_json(r / "metadata.json", lambda d: d[second].pop("warp_id")), "no time"),
        "no_camera": (lambda r: camera(r, vrig.train_ids[2]).unlink(), "missing"),
        "bent": (lambda r: _edit_json(camera(r, second), lambda d: d.update(orientation=bent)), "rotation"),
        "nan": (nan_position, "position"),
        "no_image": (lambda r: image(r, vrig.train_ids[3]).unlink(), "no image"),
        "no_scales": (no_scales, "no image folders"),
        "bad_scale": (lambda r: _edit_json(r / "scene.json", lambda d: d.update(scale=-1)), "positive"),
        "wrong_size": (lambda r: Image.new("RGB", (50, 50)).save(image(r, first)), "not a scaled copy"),
        "not_json": (lambda r: (r / "metadata.json").write_text("{not json"), "metadata.json"),
        "points_shape": (lambda r: np.save(r / "points.npy", np.zeros((5, 4))), "points"),
        "points_nan": (lambda r: np.save(r / "points.npy", np.full((5, 3), np.nan)), "NaN"),
        "points_objects": (lambda r: np.save(r / "points.npy", np.array([{}], dtype=object)), "points.npy"),
    }  # fmt: skip


def test_broken_and_hostile_captures_are_refused_in_one_sentence(vrig, tmp_path: Path) -> None:
    for name, (breakage, expected) in _breakages(vrig).items():
        root = _copy(vrig.root, tmp_path / name)
        breakage(root)  # type: ignore[operator]
        text = _refusal(root)
        assert expected in text, (name, text)
