"""Expression slider ranges (real bpy): ARKit-named keys run 0..1, PCA keys stay symmetric, and an
imported avatar's training range narrows them (a value never trained is held at 0) while the rig
keeps to it; importers say when values were clamped to those ranges."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from core.avatar import range_stats
from core.rig import loaders
from tests.blender.test_avatar_import import NUM_EXPRESSION, make_avatar
from tests.fixtures.animate import module
from tests.fixtures.blender_rig_models import make_model
from tests.fixtures.engine import bound_arrays
from tests.fixtures.files import rig_files


def _range(block) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    return (block.slider_min, block.slider_max)


def test_arkit_keys_run_zero_to_one_and_pca_keys_stay_symmetric(addon: str, clean_scene: None) -> None:
    model = make_model("FLAME", seed=2, num_expression=4, expression_names=("jawOpen", "eyeBlinkLeft"))
    parts = module("blender.rig.build").build_rig(model)
    blocks = parts.mesh.data.shape_keys.key_blocks
    assert _range(blocks["Exp000"]) == pytest.approx((0.0, 1.0))  # jawOpen
    assert _range(blocks["Exp001"]) == pytest.approx((0.0, 1.0))  # eyeBlinkLeft
    assert _range(blocks["Exp002"]) == pytest.approx((-10.0, 10.0))  # a PCA component
    report = module("blender.rig.pose_io").write_pose(parts, {"expression": np.array([1.6, 0.5, -3.0, 0.0])})
    assert blocks["Exp000"].value == pytest.approx(1.0) and blocks["Exp002"].value == pytest.approx(-3.0)
    assert report.outside_sliders == 1
    assert any("beyond their sliders' ranges" in m for m in report.messages())


def test_a_bound_avatar_narrows_the_sliders_to_its_training_range(addon: str, clean_scene: None) -> None:
    model = make_model("FLAME", seed=2, num_expression=4, expression_names=("jawOpen",))
    parts = module("blender.rig.build").build_rig(model)
    rng = np.random.default_rng(0)
    expression = np.zeros((30, 4))
    expression[:, 0] = np.linspace(0.0, 0.7, 30)  # jawOpen (0..1 by meaning) trained up to 0.7
    expression[:, 1] = np.linspace(-0.5, 1.5, 30)
    expression[:, 2] = rng.uniform(0.2, 0.8, 30)  # only ever positive: 0 stays reachable
    # expression[:, 3] stayed 0 throughout training
    header = {range_stats.HEADER_KEY: range_stats.compute_stats(expression, np.zeros((30, 5, 3))).to_header()}
    faces = len(parts.mesh.data.polygons)
    module("engine.splats.data").create_splat_object(
        "Avatar", bound_arrays(faces, count=40), driver=parts.mesh, header=header
    )
    narrowed = module("blender.rig.training_range").apply_slider_ranges(parts)  # what import_avatar runs
    assert narrowed == 4
    blocks = parts.mesh.data.shape_keys.key_blocks
    tol = range_stats.EDGE_TOLERANCE
    room = module("blender.rig.training_range").SLIDER_MARGIN  # of the trained width, each side
    assert _range(blocks["Exp000"]) == pytest.approx((0.0, 0.7 * (1 + room) + tol), abs=1e-5)
    assert _range(blocks["Exp001"]) == pytest.approx((-0.5 - 2 * room - tol, 1.5 + 2 * room + tol), abs=1e-5)
    high = expression[:, 2].max()
    assert _range(blocks["Exp002"]) == pytest.approx((-room * high - tol, high * (1 + room) + tol), abs=1e-5)
    low, high = _range(blocks["Exp003"])  # never moved in training: held at 0
    assert low == pytest.approx(0.0, abs=1e-4) and high <= 0.0011
    blocks["Exp001"].value = 4.0
    assert blocks["Exp001"].value == pytest.approx(1.5 + 2 * room + tol, abs=1e-5)
    # The animator lets go of the training range: the full ranges come back, and again.
    parts.armature.gavatar_animate.limit_to_training = False
    assert _range(blocks["Exp003"]) == pytest.approx((-10.0, 10.0))
    assert _range(blocks["Exp000"]) == pytest.approx((0.0, 1.0))
    parts.armature.gavatar_animate.limit_to_training = True
    assert blocks["Exp003"].slider_max <= 0.0011


def test_avatar_import_applies_the_training_range(addon: str, clean_scene: None, tmp_path: Path) -> None:
    model_file = rig_files.flame_2023_pickle(
        tmp_path, num_vertices=80, num_faces=120, num_shape=300, num_expression=100, seed=4
    )
    model = loaders.load_model(model_file, family="FLAME")
    path = tmp_path / "person.gavatar"
    avatar = make_avatar(model, path)  # its dynamics read NUM_EXPRESSION expressions
    expression = np.zeros((10, NUM_EXPRESSION))
    expression[:, 0] = np.linspace(-1.0, 2.0, 10)
    stats = range_stats.compute_stats(expression, np.zeros((10, 5, 3)))
    avatar.header[range_stats.HEADER_KEY] = stats.to_header()
    module("core.avatar.avatar_file").write_avatar(path, avatar)
    assert bpy.ops.gavatar.import_avatar(filepath=str(path), model_path=str(model_file)) == {"FINISHED"}
    splat = next(o for o in bpy.data.objects if o.gavatar_splat.is_splat)
    parts = module("blender.rig.parts").find_rig(splat.gavatar_splat.driver)
    blocks = parts.mesh.data.shape_keys.key_blocks
    tol = range_stats.EDGE_TOLERANCE + 3.0 * module("blender.rig.training_range").SLIDER_MARGIN
    assert _range(blocks["Exp000"]) == pytest.approx((-1.0 - tol, 2.0 + tol), abs=1e-5)
    assert blocks["Exp001"].slider_max <= 0.0011  # trained, but never moved
    assert blocks["Exp050"].slider_max <= 0.0011  # beyond what the avatar was trained on
