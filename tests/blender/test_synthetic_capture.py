"""The capture look of the synthetic head (make_synthetic head --look capture): held-out cameras
between training views, a recipe that leaves head version 4 as it was, the eyeballs, teeth and
mouth bag on the stand-in, and a tiny real render whose shading depends on the view more than the
studio look's does."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.rig import standins
from core.rig.model import RigModel
from core.synthetic import interior, layout, regions
from scripts import make_synthetic as ms
from tests.fixtures import dataset as fx

CENTRE = np.array([0.0, 0.02, 0.01])


def _stand_in() -> RigModel:
    if not standins.standin_path("FLAME").is_file():
        pytest.skip("the stand-ins are not built (python -m training.standins)")
    return standins.load_rig_model("FLAME")


def _directions(cams: list, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    unit = np.array([(c.center - centre) / np.linalg.norm(c.center - centre) for c in cams])
    azimuth = np.degrees(np.arctan2(unit[:, 0], unit[:, 2]))
    elevation = np.round(np.degrees(np.arcsin(unit[:, 1])), 6)
    return unit, azimuth, elevation


def test_held_out_cameras_sit_between_training_views() -> None:
    cams = layout.arc_cameras(16, 256, CENTRE, 0.15, 1.0, ms.ARC_SPAN, ms.ARC_ELEVATION, seed=0)
    val = layout.held_out_cameras(cams, CENTRE, ms.ARC_ELEVATION, 3)
    unit, azimuth, elevation = _directions(cams, CENTRE)
    train = [i for i in range(16) if i not in val]
    angle = np.degrees(np.arccos(np.clip(unit @ unit.T, -1.0, 1.0)))
    assert len(val) == 3
    for v in val:
        row = [i for i in train if elevation[i] == elevation[v]]
        # training cameras on both sides in its row, and one within 25 degrees
        assert azimuth[row].min() < azimuth[v] < azimuth[row].max()
        assert angle[v, train].min() < 25.0
    assert min(angle[a, b] for a in val for b in val if a != b) > 25.0  # no two side by side
    assert abs(azimuth[val]).min() < 1e-6  # the arc's centre is one of them
    small = layout.arc_cameras(5, 96, CENTRE, 0.15, 1.0, ms.ARC_SPAN, ms.ARC_ELEVATION, seed=0)
    assert layout.held_out_cameras(small, CENTRE, ms.ARC_ELEVATION, 2) == [1, 3]
    assert layout.held_out_cameras(small, CENTRE, ms.ARC_ELEVATION, 0) == []
    with pytest.raises(ValueError):
        layout.held_out_cameras(small, CENTRE, ms.ARC_ELEVATION, 3)


def test_the_capture_recipe_leaves_the_studio_recipes_as_they_were() -> None:
    v4_fields = ["subject", "cameras", "resolution", "train_frames", "test_frames", "samples", "denoise",
                 "noise_threshold", "max_bounces", "seed", "jpeg_quality", "hair_thickness", "model_name",
                 "model_sha256", "generator_version", "layout"]  # fmt: skip
    for recipe in ms.PRESETS.values():
        assert list(ms.recipe_dict(recipe)) == v4_fields  # cached studio datasets still match
    assert ms.PRESETS[("head", False)].generator_version == 4
    capture = ms.preset("head", False, "capture")
    stored = ms.recipe_dict(capture)
    assert stored["look"] == "capture" and stored["val_cameras"] == 3
    size = (capture.cameras, capture.resolution, capture.train_frames, capture.test_frames)
    assert size == (16, 256, 32, 8)
    assert ms.default_out("head", False, "/c", "capture") == Path("/c/synthetic/head_capture")
    assert ms.default_out("head", True, "/c") == Path("/c/synthetic/head_small")
    with pytest.raises(ValueError):
        ms.preset("body", False, "capture")
    work = ms.plan(capture, fx.tiny_flame_model())
    records = work.records("head")
    val = [r for r in records if r.split == "val"]
    assert len(work.val_cameras) == 3 and len(val) == 3 * 32
    assert {r.camera_index for r in val} == set(work.val_cameras)


def test_eyeballs_teeth_and_mouth_bag_of_the_stand_in() -> None:
    model = _stand_in()
    rest = model.v_template
    masks = regions.head_regions(model)
    inside, tongue = interior.mouth_inside(model), interior.tongue(model)
    assert tongue.sum() > 50 and np.all(inside[tongue > 0] == 1.0)
    lips_front = rest[masks["lips"] > 0.5, 2].max()
    bag = rest[inside > 0.5]
    assert len(bag) > 200 and bag[:, 2].max() < lips_front  # all of it behind the lips' front
    # The smooth eyeballs replace the model's own: same centres and size.
    faces = interior.faces_without_eyeballs(model)
    own = interior.eyeball_vertices(model)
    assert not own[faces].all(axis=1).any() and len(faces) < len(model.faces)
    joints = model.joint_regressor @ rest
    for part, joint in zip(interior.eyeballs(model), (interior.EYE_LEFT, interior.EYE_RIGHT), strict=True):
        radius = np.linalg.norm(part.vertices - joints[joint], axis=1)
        mine = np.linalg.norm(rest[model.weights.argmax(1) == joint] - joints[joint], axis=1)
        assert abs(np.median(radius) - np.median(mine)) < 1e-4
        assert radius.max() < radius.min() * (1 + interior.CORNEA_BULGE) + 1e-9  # the cornea, in front
        assert part.vertices[np.argmax(radius), 2] > joints[joint][2]
    upper, lower = interior.teeth(model, masks["lips"], inside)
    frame = interior.mouth_frame(model, masks["lips"], inside)
    assert upper.vertices[:, 1].min() > frame.seam_y > lower.vertices[:, 1].max()
    assert max(upper.vertices[:, 2].max(), lower.vertices[:, 2].max()) < lips_front - 0.005
    # Posing: the eyes follow the gaze, the lower teeth the jaw, the upper teeth stay.
    params = {"shape": np.zeros(model.num_shape), "expr": np.zeros(model.num_expression),
              "rotation": np.zeros(3), "neck_pose": np.zeros(3), "jaw_pose": np.array([0.3, 0, 0]),
              "eyes_pose": np.array([0, 0.3, 0, 0, 0.3, 0]), "translation": np.zeros(3)}  # fmt: skip
    rig = ms.rig_output(model, "head", params)
    eye = interior.eyeballs(model)[0]
    pole = eye.vertices[0] - joints[interior.EYE_LEFT]  # the front pole: the gaze
    posed = interior.pose_part(eye, joints, rig.transforms)
    turned = posed[0] - rig.joints[interior.EYE_LEFT]
    assert np.degrees(np.arccos(np.dot(pole, turned) / np.dot(pole, pole))) == pytest.approx(17.19, abs=0.05)
    assert np.allclose(interior.pose_part(upper, joints, rig.transforms), upper.vertices, atol=1e-9)
    opened = interior.pose_part(lower, joints, rig.transforms)
    assert opened[:, 1].mean() < lower.vertices[:, 1].mean() - 0.005


def _view_dependence(out: Path, model: RigModel, cams: tuple[str, str]) -> float:
    """The share of skin points, seen squarely by two cameras, whose brightness differs by more
    than 0.15 between them (a matte surface looks the same from both; highlights move), over the
    dataset's timesteps."""
    from core.datasets import load_image, load_mask, open_dataset
    from core.synthetic.regions import vertex_normals

    ds = open_dataset(out)
    masks = regions.head_regions(model)
    skin = (masks["hair"] + masks["eyes"] + masks["lips"] + masks["brows"]) < 0.01
    diffs = []
    for t in sorted({f.timestep for f in ds.frames}):
        a, b = (next(f for f in ds.frames if f.timestep == t and f.camera_id == c) for c in cams)
        verts = ms.posed(model, "head", dict(a.params))
        normals = vertex_normals(verts, model.faces)
        facing = skin.copy()
        for f in (a, b):
            to_cam = f.camera.center - verts
            to_cam /= np.linalg.norm(to_cam, axis=1, keepdims=True)
            facing &= np.einsum("vk,vk->v", normals, to_cam) > 0.7
        pixels = [np.round(f.camera.project(verts[facing])).astype(int).T for f in (a, b)]
        inside = np.ones(int(facing.sum()), dtype=bool)  # away from the silhouette in both
        for f, (cols, rows) in zip((a, b), pixels, strict=True):
            inside &= load_mask(f.mask_path)[rows, cols] > 0.99
        assert inside.sum() > 30
        brightness = [
            load_image(f.image_path)[rows[inside], cols[inside]].mean(-1)
            for f, (cols, rows) in zip((a, b), pixels, strict=True)
        ]
        diffs.append(np.abs(brightness[0] - brightness[1]))
    return float(np.mean(np.concatenate(diffs) > 0.15))


@pytest.mark.slow
def test_a_tiny_capture_render_is_glossier_and_holds_out_two_cameras(tmp_path: Path) -> None:
    """Both looks of the stand-in head rendered small with Cycles through make_synthetic: the
    capture look writes two held-out cameras that the dataset reader finds, and its skin changes
    between two nearby cameras at least twice as often as the studio look's (gloss under point
    lights: about 13 % of the points against 4 %)."""
    from core.datasets import open_dataset

    model = _stand_in()
    small = dict(resolution=64, train_frames=2, test_frames=1, samples=4)
    capture = replace(ms.preset("head", True, "capture"), **small)
    studio = replace(ms.PRESETS[("head", True)], cameras=capture.cameras, val_cameras=2, **small)
    outs = {}
    for name, recipe in (("capture", capture), ("studio", studio)):
        outs[name] = ms.generate(recipe, model, tmp_path / name, log=lambda _: None)
    ds = open_dataset(outs["capture"])
    info = json.loads((outs["capture"] / "recipe.json").read_text())
    assert info["val_cameras"] == ["cam01", "cam03"] and info["recipe"]["look"] == "capture"
    assert sorted({f.camera_id for f in ds.split("val")}) == ["cam01", "cam03"]
    expected = "gaussian_avatars: 15 images (train 6, val 4, test 5), 5 cameras, 3 timesteps, FLAME"
    assert ds.summary() == expected
    for pair in (("cam01", "cam02"), ("cam02", "cam03")):
        changed = {name: _view_dependence(out, model, pair) for name, out in outs.items()}
        print(f"{pair}: share of skin points changing between the cameras {changed}")
        assert changed["capture"] > 2.0 * changed["studio"]


def test_eyeballs_and_teeth_show_in_a_render(tmp_path: Path) -> None:
    """The capture scene with the jaw open, from the front camera: hiding the eyeballs or the teeth
    changes the image around the eyes / the mouth (they are there and seen), nowhere else."""
    from core.datasets import load_image
    from scripts.source_package import source_module

    scene = source_module("blender.synthetic.scene")
    stage = source_module("blender.synthetic.capture")
    Appearance = source_module("blender.synthetic.materials").Appearance  # noqa: N806 (a class)

    model = _stand_in()
    recipe = replace(ms.preset("head", True, "capture"), resolution=96, train_frames=2, test_frames=0)
    work = ms.plan(recipe, model)
    masks = regions.head_regions(model)
    sc = scene.reset_scene()
    scene.configure_render(sc, scene.RenderSettings(4, False, 0.0, 2))
    head = stage.CaptureHead(sc, model, masks, Appearance.from_seed(0))
    rest = model.v_template
    stage.add_capture_lights(sc, rest.mean(0), float(np.ptp(rest, axis=0).max()))
    cam = scene.add_cameras(sc, work.cameras[2:3])[0]  # the centre of the arc
    rig = ms.rig_output(model, "head", work.params[1])  # the widest-open jaw of the tour
    head.pose(rig.transforms)
    scene.set_vertices(head.subject, rig.vertices)
    shots = {}
    for hidden in ("", "eye", "teeth"):
        for obj in head.objects:
            obj.hide_render = bool(hidden) and obj.name.startswith(hidden)
        png = scene.render_view(sc, cam, tmp_path / f"{hidden or 'all'}.png")
        ms.finish_image(png, tmp_path / f"{hidden or 'all'}.jpg", tmp_path / "mask.png", 95)
        shots[hidden] = load_image(tmp_path / f"{hidden or 'all'}.jpg")
    joints = model.joint_regressor @ rest
    posed = {p.name: interior.pose_part(p, joints, rig.transforms) for p in head.parts}
    eyes = work.cameras[2].project(np.array([posed[n].mean(0) for n in ("eye_left", "eye_right")]))
    mouth = work.cameras[2].project(np.concatenate([posed["teeth_upper"], posed["teeth_lower"]]).mean(0))
    for hidden, near in (("eye", eyes), ("teeth", mouth)):
        changed = np.argwhere(np.abs(shots[hidden] - shots[""]).max(-1) > 0.1)[:, ::-1]  # (col, row)
        distance = np.linalg.norm(changed[:, None] - near[None], axis=-1).min(1)
        print(f"hiding {hidden}: {len(changed)} pixels change, {distance.max():.1f} px away at most")
        assert len(changed) > 10 and distance.max() < 10.0  # around the eyes / the mouth only (head: 80 px)
