"""The synthetic dataset generator: performances, camera rigs, writers, and a tiny real render whose
silhouettes must agree with the cameras written to the dataset."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import bpy
import numpy as np
import pytest

from core.datasets import load_image, load_mask, open_dataset
from core.datasets.writers import FrameRecord, write_avatarrex, write_gaussian_avatars
from core.synthetic import layout, motion, regions
from tests.fixtures import dataset as fx


def test_head_performance_covers_expressions_and_holds_out_new_ones() -> None:
    model = fx.tiny_flame_model()
    train, test = motion.head_performance(model, 12, 3)
    assert len(train) == 12 and len(test) == 3
    for p in train + test:
        assert p["expr"].shape == (model.num_expression,) and p["eyes_pose"].shape == (6,)
    train_exprs = {tuple(np.round(p["expr"], 6)) for p in train}
    assert not any(tuple(np.round(p["expr"], 6)) in train_exprs for p in test)
    jaw = [p["jaw_pose"][0] for p in train]
    assert max(jaw) > 0.2 and min(jaw) == 0.0


def test_named_expressions_drive_the_named_bases() -> None:
    model = replace(fx.tiny_flame_model(), expression_names=tuple(f"e{i}" for i in range(9)) + ("jawOpen",))
    train, _ = motion.head_performance(model, 16, 1)
    jaw_open = [p["expr"][9] for p in train]
    assert max(jaw_open) == pytest.approx(1.0) and all(np.count_nonzero(p["expr"][:9]) == 0 for p in train)


def test_body_performance_reaches_its_target_directions() -> None:
    model = fx.tiny_smplx_model()
    rest = model.joint_regressor @ model.v_template
    key = motion.BodyKey(left_arm=(0.0, 1.0, 0.0), right_leg=(0.0, -0.3, 1.0))
    params = motion.body_pose_from_key(model, key, rest)
    posed = fx.posed_vertices(model, params)
    from core.rig.lbs import forward

    pose = np.zeros((55, 3))
    pose[1:22] = params["body_pose"].reshape(21, 3)
    joints = forward(model, None, None, pose).joints
    arm = joints[18] - joints[16]
    leg = joints[5] - joints[2]
    assert np.dot(arm / np.linalg.norm(arm), [0, 1, 0]) > 0.999
    assert np.dot(leg / np.linalg.norm(leg), np.array([0, -0.3, 1]) / np.linalg.norm([0, -0.3, 1])) > 0.999
    assert posed.shape == (model.num_vertices, 3)
    train, test = motion.body_performance(model, 10, 2)
    assert len(train) == 10 and len(test) == 2 and train[0]["body_pose"].shape == (63,)


def test_camera_rings_frame_the_subject() -> None:
    centre = np.array([0.0, 0.02, 0.01])
    cams = layout.ring_cameras(16, 512, centre, 0.15, 1.0, (5.0, 32.0), seed=0)
    assert len({c.camera_id for c in cams}) == 16
    for cam in cams:
        u, v = cam.project(centre[None])[0]
        assert abs(u - 255.5) < 5 and abs(v - 255.5) < 5  # looks at the centre (principal point jitter)
        # A sphere of the half extent stays inside the image.
        edge = cam.project((centre + cam.camera_to_world[:3, 0] * 0.15)[None])[0]
        assert 470 < edge[0] < 500
    heights = sorted(c.center[1] for c in cams)
    assert heights[7] < heights[8] - 0.2  # two rings
    val = layout.frontal_camera(cams, centre)
    rel = cams[val].center - centre
    assert cams[val].center[1] > np.median(heights) and rel[2] > 0.5


def test_camera_arc_is_frontal_and_holds_out_its_centre() -> None:
    centre = np.array([0.0, 0.02, 0.01])
    cams = layout.arc_cameras(16, 512, centre, 0.15, 1.0, (93.0, 32.0), 8.0, seed=0)
    assert len({c.camera_id for c in cams}) == 16
    rel = np.array([c.center - centre for c in cams])
    azimuth = np.degrees(np.arctan2(rel[:, 0], rel[:, 2]))
    elevation = np.degrees(np.arcsin(rel[:, 1] / np.linalg.norm(rel, axis=1)))
    assert np.isclose(azimuth.min(), -46.5) and np.isclose(azimuth.max(), 46.5)  # all in front
    assert np.allclose(sorted(set(np.round(elevation, 6))), [-8.0, 8.0, 24.0])  # three rows
    for cam in cams:
        u, v = cam.project(centre[None])[0]
        assert abs(u - 255.5) < 5 and abs(v - 255.5) < 5
    val = layout.central_camera(cams, centre, 8.0)
    assert abs(azimuth[val]) < 1e-6 and np.isclose(elevation[val], 8.0)
    # Its nearest training views are 16-25 degrees away, as on NeRSemble's rig.
    unit = rel / np.linalg.norm(rel, axis=1, keepdims=True)
    angles = np.degrees(np.arccos(np.clip(unit @ unit[val], -1, 1)))
    assert 15.0 < np.sort(angles)[1] < 25.0
    small = layout.arc_cameras(4, 128, centre, 0.15, 1.0, (93.0, 32.0), 8.0, seed=0)
    assert len(small) == 4 and layout.central_camera(small, centre, 8.0) in (1, 2)


def test_ring_cameras_are_unchanged_by_the_arc_refactor() -> None:
    # Body datasets rendered before the arc layout existed must keep their cache (same recipe, same
    # pixels): the first camera of the body ring, as computed by generator version 3.
    cams = layout.ring_cameras(16, 512, np.zeros(3), 1.0, 3.4, (8.0, 28.0), seed=0)
    assert np.allclose(cams[0].center, [0.0, 0.46009620352811337, 3.2737545959678607], atol=1e-12)
    assert np.allclose(
        cams[0].K, [[770.12909391, 0, 257.89335397], [0, 770.12909391, 255.3120545], [0, 0, 1]]
    )


def test_regions_are_weights() -> None:
    for masks in (regions.head_regions(fx.tiny_flame_model()), regions.body_regions(fx.tiny_smplx_model())):
        for name in regions.MASK_NAMES:
            assert masks[name].shape[0] in (60, 220)
            assert masks[name].min() >= 0.0 and masks[name].max() <= 1.0
        assert masks["eye_left"].shape == (3,)
    body = regions.body_regions(fx.tiny_smplx_model())
    assert body["shirt"].max() > 0.9 and body["pants"].max() > 0.9 and body["shoes"].max() > 0.9


def _write_images(root: Path, records: list[FrameRecord]) -> None:
    for rec in records:
        fx.write_image(root / rec.image, np.array([5.0, 5.0]))
        if rec.mask:
            fx.write_mask(root / rec.mask, np.array([5.0, 5.0]))


def test_writers_round_trip_through_the_readers(tmp_path: Path) -> None:
    centre = np.zeros(3)
    cams = layout.ring_cameras(4, 40, centre, 0.2, 1.0, (5.0, 30.0), seed=3)
    cams = [replace(c, height=30) for c in cams]
    model = fx.tiny_flame_model()
    train, test = motion.head_performance(model, 3, 1)
    params = dict(enumerate(train + test))
    records = [
        FrameRecord(c, t, "test" if t == 3 else ("val" if c == 1 else "train"),
                    f"images/{t:05d}_{c:02d}.jpg", f"fg_masks/{t:05d}_{c:02d}.png")
        for t in params for c in range(4)
    ]  # fmt: skip
    _write_images(tmp_path / "head", records)
    write_gaussian_avatars(
        tmp_path / "head", cams, records, params, background=(1.0, 1.0, 1.0), recipe={"a": 1}
    )
    ds = open_dataset(tmp_path / "head")
    assert ds.format == "gaussian_avatars" and ds.background == (1.0, 1.0, 1.0) and ds.recipe == {"a": 1}
    assert (
        ds.summary() == "gaussian_avatars: 16 images (train 9, val 3, test 4), 4 cameras, 4 timesteps, FLAME"
    )
    for f in ds.frames:
        cam = cams[int(f.camera_id[3:])]
        np.testing.assert_allclose(f.camera.world_to_camera, cam.world_to_camera, atol=1e-9)
        np.testing.assert_allclose(f.camera.K, cam.K, atol=1e-9)
        np.testing.assert_allclose(
            f.params["expr"][: model.num_expression], params[f.timestep]["expr"], atol=1e-6
        )
        assert f.params["expr"].shape == (100,) and f.params["shape"].shape == (300,)

    body_model = fx.tiny_smplx_model()
    btrain, btest = motion.body_performance(body_model, 3, 1)
    bparams = dict(enumerate(btrain + btest))
    from core.datasets.writers import avatarrex_image_path, avatarrex_mask_path

    brecords = [
        FrameRecord(c, t, "train", avatarrex_image_path(cam.camera_id, t),
                    avatarrex_mask_path(cam.camera_id, t, ".png"))
        for t in bparams for c, cam in enumerate(cams)
    ]  # fmt: skip
    _write_images(tmp_path / "body", brecords)
    write_avatarrex(
        tmp_path / "body", cams, bparams, val_cameras=["cam02"], test_timesteps=[3], recipe={"b": 2}
    )
    bds = open_dataset(tmp_path / "body")
    assert bds.format == "avatarrex" and bds.recipe == {"b": 2}
    assert {f.camera_id for f in bds.split("val")} == {"cam02"} and {
        f.timestep for f in bds.split("test")
    } == {3}
    for f in bds.frames:
        np.testing.assert_allclose(f.params["body_pose"], bparams[f.timestep]["body_pose"], atol=1e-6)
        assert f.mask_path is not None and f.mask_path.suffix == ".png"


def test_tiny_render_silhouettes_match_the_written_cameras(tmp_path: Path) -> None:
    """Render a small head with Cycles through make_synthetic, read it back as a dataset, and check
    that every posed vertex projects inside the rendered mask, and the background is white."""
    from scripts import make_synthetic as ms

    model = fx.tiny_flame_model(n_lon=32, n_lat=20)
    model = replace(model, expr_dirs=model.expr_dirs * 0.1)  # keep the head inside the framing
    recipe = replace(ms.PRESETS[("head", True)], cameras=3, resolution=48, train_frames=2, test_frames=1,
                     samples=4, denoise=False)  # fmt: skip
    out = ms.generate(recipe, model, tmp_path / "syn", log=lambda _: None)
    ds = open_dataset(out)
    assert (
        ds.summary() == "gaussian_avatars: 9 images (train 4, val 2, test 3), 3 cameras, 3 timesteps, FLAME"
    )
    info = json.loads((out / "recipe.json").read_text())
    assert info["complete"] and info["recipe"]["resolution"] == 48
    assert {f.camera_id for f in ds.split("val")} == {info["val_camera"]}
    for frame in ds.frames:
        mask = load_mask(frame.mask_path)
        rgb = load_image(frame.image_path)
        verts = ms.posed(model, "head", dict(frame.params))
        uv = frame.camera.project(verts)
        cols, rows = np.round(uv).astype(int).T
        inside = (cols >= 0) & (cols < 48) & (rows >= 0) & (rows < 48)
        assert inside.all()
        covered = np.maximum.reduce(
            [np.roll(np.roll(mask, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        )
        assert (covered[rows, cols] > 0.5).mean() > 0.99, frame.image_path
        assert (mask > 0.5).mean() > 0.05
        assert rgb[mask < 0.01].mean() > 0.97  # white where nothing was rendered
    # A second call with the same recipe reuses the dataset.
    stamp = (out / "images" / "00000_00.jpg").stat().st_mtime_ns
    ms.generate(recipe, model, out, log=lambda _: None)
    assert (out / "images" / "00000_00.jpg").stat().st_mtime_ns == stamp


@pytest.mark.slow
@pytest.mark.parametrize("subject", ["head", "body"])
def test_small_synthetic_dataset_of_the_stand_ins(addon: str, tmp_path: Path, subject: str) -> None:
    """The CPU-test variant with the real stand-ins: renders, reads back, its silhouettes agree with
    the cameras, and imported into Blender the keyed stand-in rig projects like the dataset."""
    import importlib

    from bpy_extras.object_utils import world_to_camera_view

    from core.rig import standins
    from scripts import make_synthetic as ms

    family = "FLAME" if subject == "head" else "SMPLX"
    if not standins.standin_path(family).is_file():
        pytest.skip("the stand-ins are not built (python -m training.standins)")
    model = standins.load_rig_model(family)
    out = ms.generate(ms.PRESETS[(subject, True)], model, tmp_path / subject, log=lambda _: None)
    ds = open_dataset(out)
    assert ds.format == ("gaussian_avatars" if subject == "head" else "avatarrex") and ds.trainable
    assert len(ds.split("val")) > 0 and len(ds.split("test")) > 0
    for frame in ds.frames[::5]:
        mask = load_mask(frame.mask_path)
        uv = frame.camera.project(ms.posed(model, subject, dict(frame.params)))
        cols, rows = np.round(uv).astype(int).T
        ok = (cols >= 0) & (cols < mask.shape[1]) & (rows >= 0) & (rows < mask.shape[0])
        covered = np.maximum.reduce(
            [np.roll(np.roll(mask, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        )
        assert (covered[rows[ok], cols[ok]] > 0.5).mean() > 0.99
    importer = importlib.import_module(f"{addon}.blender.datasets.scene")
    parts = importlib.import_module(f"{addon}.blender.rig.parts")
    bpy.ops.wm.read_homefile(use_empty=True)
    result = importer.import_dataset(bpy.context, ds, importer.ImportOptions(model=model))
    assert result.rig is not None, result.skipped
    mesh_obj = parts.find_rig(result.rig).mesh
    scene = bpy.context.scene
    worst = 0.0
    for timestep, frame_number in list(result.frame_of_timestep.items())[::3]:
        scene.frame_set(frame_number)
        evaluated = mesh_obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        co = [evaluated.matrix_world @ v.co for v in evaluated.data.vertices]
        expected_verts = ms.posed(model, subject, dict(ds.rig_params[timestep]))
        for frame in ds.frames_at(timestep):
            cam = result.cameras[frame.camera_id]
            importlib.import_module(f"{addon}.blender.datasets.cameras").activate_camera(scene, cam)
            w, h = scene.render.resolution_x, scene.render.resolution_y
            got = np.array(
                [
                    (p.x * w - 0.5, (1 - p.y) * h - 0.5)
                    for p in (world_to_camera_view(scene, cam, c) for c in co)
                ]
            )
            worst = max(worst, float(np.abs(got - frame.camera.project(expected_verts)).max()))
    print(f"{subject}: stand-in rig vs dataset cameras, worst {worst:.3g} px")
    assert worst < 0.5
