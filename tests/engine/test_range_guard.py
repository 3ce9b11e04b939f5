"""The range guard in Blender (real bpy): the statistics ride on the splat object from the avatar
file, the guard (off by default) changes the Gaussians and the F12 render for out-of-range values and
leaves in-range ones alone, and the driver mesh keeps the animator's values."""

from __future__ import annotations

import json
from pathlib import Path

import bpy
import numpy as np
import pytest

from core.avatar import range_stats
from core.avatar.range_stats import compute_stats
from core.rig import loaders
from tests.blender.test_avatar_import import NUM_EXPRESSION, NUM_SHAPE, make_avatar
from tests.engine.test_render import (
    build_avatar,
    frame_avatar,
    psnr,
    reference_gaussians,
    render_png,
    setup_scene,
)
from tests.fixtures.engine import addon_module
from tests.fixtures.files import rig_files

EXPR_RANGE = 0.5


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small FLAME-format file test_avatar_import.make_avatar builds avatars for."""
    folder = tmp_path_factory.mktemp("model")
    return rig_files.flame_2023_pickle(
        folder, num_vertices=80, num_faces=120, num_shape=NUM_SHAPE, num_expression=NUM_EXPRESSION, seed=4
    )


def _training_stats(num_expression: int, num_joints: int, seed: int = 0) -> range_stats.RangeStats:
    """Training frames whose expressions span [-0.5, 0.5] and whose joints turn up to ~0.3 rad."""
    rng = np.random.default_rng(seed)
    expr = rng.uniform(-EXPR_RANGE, EXPR_RANGE, (50, num_expression))
    expr[0], expr[1] = -EXPR_RANGE, EXPR_RANGE
    pose = rng.uniform(-0.3, 0.3, (50, num_joints, 3))
    return compute_stats(expr, pose)


def _set_stats(obj, stats: range_stats.RangeStats) -> None:  # type: ignore[no-untyped-def]
    splat_data = addon_module("engine.splats.data")
    header = splat_data.stored_header(obj)
    header[range_stats.HEADER_KEY] = stats.to_header()
    obj.data[splat_data.PROP_HEADER] = json.dumps(header)


def _set_jaw(parts, angle: float) -> None:  # type: ignore[no-untyped-def]
    pose = np.zeros((5, 3))
    pose[2, 0] = angle  # FLAME joints: root, neck, jaw, eyes
    addon_module("blender.rig.pose_io").write_pose(parts, {"pose": pose})
    bpy.context.view_layer.update()


def _set_expression(parts, index: int, value: float) -> None:  # type: ignore[no-untyped-def]
    parts.mesh.data.shape_keys.key_blocks[f"Exp{index:03d}"].value = value
    bpy.context.view_layer.update()


def _gaussians(obj):  # type: ignore[no-untyped-def]
    runtime = addon_module("engine.splats.runtime")
    return runtime.posed_gaussians(obj, bpy.context.evaluated_depsgraph_get())


def _same(a, b) -> bool:  # type: ignore[no-untyped-def]
    return all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("means", "quats", "log_scales", "opacity_logits", "sh")
    )


def test_imported_avatar_carries_its_range_and_the_guard_acts_on_outliers_only(
    clean_scene: None,
    model_file: Path,
    tmp_path: Path,
) -> None:
    model = loaders.load_model(model_file, family="FLAME")
    path = tmp_path / "person.gavatar"
    avatar = make_avatar(model, path)
    stats = _training_stats(NUM_EXPRESSION, 5)
    avatar.header[range_stats.HEADER_KEY] = stats.to_header()
    addon_module("core.avatar.avatar_file").write_avatar(path, avatar)
    assert bpy.ops.gavatar.import_avatar(filepath=str(path), model_path=str(model_file)) == {"FINISHED"}
    obj = next(o for o in bpy.data.objects if o.gavatar_splat.is_splat)
    guard = addon_module("engine.splats.range_guard")
    assert guard.stats_of(obj) is not None and guard.stats_of(obj).frames == 50
    assert obj.gavatar_guard.mode == "OFF"  # off by default
    driver = obj.gavatar_splat.driver
    parts = addon_module("blender.rig.parts").find_rig(driver)

    _set_jaw(parts, 0.1)  # inside the training range (joints turned up to 0.3 rad)
    off = _gaussians(obj)
    for mode in ("CLAMP", "SOFT"):
        obj.gavatar_guard.mode = mode
        assert _same(_gaussians(obj), off), mode

    _set_jaw(parts, 1.4)  # far outside
    obj.gavatar_guard.mode = "OFF"
    wild = _gaussians(obj)
    obj.gavatar_guard.mode = "CLAMP"
    clamped = _gaussians(obj)
    assert not _same(clamped, wild)
    # Clamping is exactly the dynamics fed with the features clipped to the training [min, max]
    # (stretched to hold 0, with a 1e-5 slack), on the same (unclamped) driver mesh.
    runtime = addon_module("engine.splats.runtime")
    source = runtime.SplatSource(obj)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    features = source.features.read(driver, depsgraph)
    rows = stats.features(NUM_EXPRESSION, 36)
    clipped = np.clip(features, np.minimum(rows[0], 0.0) - 1e-5, np.maximum(rows[1], 0.0) + 1e-5)
    assert np.count_nonzero(clipped != features) >= 2  # the jaw's features left the range
    expected = source.pose_cpu(source.vertices(depsgraph), clipped)
    assert np.allclose(clamped.means, expected.means, atol=1e-6)
    assert np.allclose(clamped.sh, expected.sh, atol=1e-6)
    obj.gavatar_guard.mode = "SOFT"
    soft = _gaussians(obj)
    assert not _same(soft, wild) and not _same(soft, clamped)
    # The driver mesh keeps the animator's pose.
    pose = addon_module("blender.rig.pose_io").read_pose(parts)["pose"]
    assert pose[2, 0] == pytest.approx(1.4, abs=1e-5)

    # The panel's numbers for this frame.
    panel = addon_module("addon.range_guard_panel")
    found = panel.frame_report(bpy.context, obj)
    rep, num_e = found.report, found.num_expression
    assert rep.outside >= 2 and num_e == NUM_EXPRESSION
    assert found.furthest and all(
        panel.feature_label(obj, i, num_e).startswith("Pose.jaw.") for i, *_ in found.furthest
    )
    assert panel.feature_label(obj, rep.worst, num_e).startswith("Pose.jaw.")
    assert panel.feature_label(obj, 0, num_e) == "Exp000"


def test_old_avatars_have_no_guard(clean_scene: None, model_file: Path, tmp_path: Path) -> None:
    model = loaders.load_model(model_file, family="FLAME")
    path = tmp_path / "old.gavatar"
    make_avatar(model, path)
    assert bpy.ops.gavatar.import_avatar(filepath=str(path), model_path=str(model_file)) == {"FINISHED"}
    obj = next(o for o in bpy.data.objects if o.gavatar_splat.is_splat)
    guard = addon_module("engine.splats.range_guard")
    assert guard.stats_of(obj) is None
    parts = addon_module("blender.rig.parts").find_rig(obj.gavatar_splat.driver)
    _set_jaw(parts, 1.4)
    before = _gaussians(obj)
    obj.gavatar_guard.mode = "CLAMP"
    assert _same(_gaussians(obj), before)  # nothing to guard with
    assert addon_module("addon.range_guard_panel").frame_report(bpy.context, obj) is None


def test_guard_changes_the_f12_render_only_out_of_range(clean_scene: None, tmp_path: Path) -> None:
    width, height = 96, 72
    camera = setup_scene(width, height)
    parts, obj, arrays, model = build_avatar(rank=4)
    # Strong dynamics so the guard's effect is plain in the image.
    splat_data = addon_module("engine.splats.data")
    stats = _training_stats(model.num_expression, model.num_joints)
    _set_stats(obj, stats)
    posed, matrix = reference_gaussians(parts, arrays, model)
    frame_avatar(camera, posed, matrix)
    assert splat_data.settings(obj).use_dynamics

    def render(name: str) -> np.ndarray:
        return render_png(tmp_path / f"{name}.png")

    _set_expression(parts, 1, 0.3)
    obj.gavatar_guard.mode = "OFF"
    inside_off = render("inside_off")
    obj.gavatar_guard.mode = "CLAMP"
    inside_on = render("inside_on")
    assert np.array_equal(inside_off, inside_on)

    _set_expression(parts, 1, 6.0)
    obj.gavatar_guard.mode = "OFF"
    outside_off = render("outside_off")
    obj.gavatar_guard.mode = "CLAMP"
    outside_on = render("outside_on")
    diff = float(np.abs(outside_off - outside_on).max())
    value = psnr(outside_on, outside_off)
    print(f"guard on vs off, out of range: max pixel change {diff:.3f}, PSNR {value:.1f} dB")
    assert diff > 0.02


def test_bake_brings_expression_keys_into_range(clean_scene: None) -> None:
    parts, obj, _arrays, model = build_avatar(rank=4)
    _set_stats(obj, _training_stats(model.num_expression, model.num_joints))
    blocks = parts.mesh.data.shape_keys.key_blocks
    animation = addon_module("blender.rig.animation")
    key_id = parts.mesh.data.shape_keys
    action = animation.ensure_action(key_id, "Keys")
    curve = animation.ensure_fcurve(key_id, action, 'key_blocks["Exp000"].value')
    animation.set_keys(curve, np.array([1.0, 2.0, 3.0]), np.array([0.2, 4.0, -3.0]))
    blocks["Exp001"].value = 2.5  # unkeyed, out of range
    blocks["Exp002"].value = 0.1  # unkeyed, in range
    bpy.context.view_layer.objects.active = parts.armature  # the rig finds its splats
    bake = addon_module("blender.animate.range_bake")
    with pytest.raises(bake.GuardBakeError, match="Choose Clamp or Soft"):
        bake.bake_expression_keys(obj, "OFF")
    assert bpy.ops.gavatar.range_guard_bake() == {"FINISHED"}  # the guard is off: clamp
    values = [p.co[1] for p in curve.keyframe_points]
    assert values == pytest.approx([0.2, EXPR_RANGE, -EXPR_RANGE], abs=2e-5)
    assert blocks["Exp001"].value == pytest.approx(EXPR_RANGE, abs=2e-5)
    assert blocks["Exp002"].value == pytest.approx(0.1)
    bpy.ops.ed.undo_push()
    curve.keyframe_points[1].co[1] = 4.0
    obj.gavatar_guard.mode = "SOFT"
    assert bpy.ops.gavatar.range_guard_bake() == {"FINISHED"}
    soft = curve.keyframe_points[1].co[1]
    assert EXPR_RANGE < soft < EXPR_RANGE + 0.1 * 2 * EXPR_RANGE + 1e-4


def test_bake_without_statistics_is_refused(clean_scene: None) -> None:
    _parts, obj, _arrays, _model = build_avatar(rank=4)
    with pytest.raises(RuntimeError, match="no training statistics"):
        bpy.ops.gavatar.range_guard_bake(splats=obj.name)
