"""The key test on the free stand-ins: Blender's evaluated driver mesh == the numpy forward.

For 20 random poses, shapes and expressions per stand-in, after a round trip through the
parameter conversion (write forward inputs -> Blender -> read them back -> numpy forward), every
vertex agrees within 1e-4 m in Blender's world. Skips cleanly when the stand-ins are not built
(``python -m training.standins`` with the trainer Python builds them into the cache).
"""

from __future__ import annotations

import importlib

import bpy
import numpy as np
import pytest

from core.rig import lbs, loaders, standins
from tests.blender.test_rig import TOLERANCE, evaluated_world, forward_world


@pytest.mark.parametrize("family", ["FLAME", "SMPLX"])
def test_standin_rig_matches_forward(addon: str, clean_scene: None, family: str) -> None:
    path = standins.standin_path(family)
    if not path.is_file():
        pytest.skip(f"the {family} stand-in is not built ({path})")
    prefs = bpy.context.preferences.addons[addon].preferences
    assert not getattr(prefs, f"{family.lower()}_model_path")
    assert bpy.ops.gavatar.add_rig(family=family) == {"FINISHED"}  # no path: the stand-in
    parts = importlib.import_module(f"{addon}.blender.rig.parts").active_rig(bpy.context)
    pose_io = importlib.import_module(f"{addon}.blender.rig.pose_io")
    model = loaders.load_model(path, family=family)
    assert parts.info.model_sha256 == model.source_sha256 and parts.info.model_path == str(path)
    assert [n.name for n in parts.info.expression_names] == list(model.expression_names)
    parts.armature.location = (0.3, 0.5, -0.2)
    rng = np.random.default_rng(11)
    worst_write = worst_read = 0.0
    for _ in range(20):
        inputs = {
            "betas": rng.normal(scale=1.0, size=model.num_shape),
            "expression": rng.uniform(0.0, 1.0, size=model.num_expression),  # ARKit weights: 0..1
            "pose": rng.normal(scale=0.4, size=(model.num_joints, 3)),
            "transl": rng.normal(scale=0.2, size=3),
        }
        pose_io.write_pose(parts, inputs)
        blender = evaluated_world(parts)
        worst_write = max(worst_write, float(np.abs(blender - forward_world(parts, model, inputs)).max()))
        back = pose_io.read_pose(parts)
        worst_read = max(worst_read, float(np.abs(blender - forward_world(parts, model, back)).max()))
        np.testing.assert_allclose(
            lbs.axis_angle_to_matrix(back["pose"]), lbs.axis_angle_to_matrix(inputs["pose"]), atol=1e-5
        )
    print(f"{family} stand-in: max vertex error {worst_write:.2e} m written, {worst_read:.2e} m read back")
    assert worst_write < TOLERANCE and worst_read < TOLERANCE
