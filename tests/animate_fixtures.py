"""Fixtures for the animation tests: the free stand-in SMPL-X rig (built once per session and saved
to a .blend that tests open), generated model files, and helpers reading the evaluated scene.

The stand-in comes from tests/standin_fixtures.py (built once into the cache if missing; skipped
without anny): a module using ``standin_smplx_blend`` imports ``standin_dir`` as well.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

ADDON = "bl_ext.user_default.gaussian_avatar"
STANDIN_SMPLX = "smplx_standin_neutral.npz"
STANDIN_FLAME = "flame_standin.pkl"


def module(name: str) -> ModuleType:
    """A module of the enabled extension, e.g. module('engine.blender.animate.amass_import')."""
    return importlib.import_module(f"{ADDON}.{name}")


def preferences() -> Any:
    import bpy

    return bpy.context.preferences.addons[ADDON].preferences


@pytest.fixture(scope="session")
def standin_smplx_blend(
    addon: str, standin_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A .blend holding only a stand-in SMPL-X rig (active), built once for the session."""
    import bpy

    model_path = standin_dir / STANDIN_SMPLX
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.gavatar.add_rig(family="SMPLX", model_path=str(model_path))
    path = tmp_path_factory.mktemp("standin") / "standin_smplx.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    yield path


def open_blend(path: Path) -> None:
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)


def active_parts() -> Any:
    import bpy

    return module("engine.blender.rig.parts").active_rig(bpy.context)


def evaluated_mesh_world(obj: Any) -> np.ndarray:
    """(V,3) world coordinates of an object's evaluated mesh at the current frame."""
    import bpy

    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated = obj.evaluated_get(depsgraph)
    mesh = evaluated.data
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", co)
    world = np.array(evaluated.matrix_world, dtype=np.float64)
    return co.reshape(-1, 3).astype(np.float64) @ world[:3, :3].T + world[:3, 3]


def bone_head_world(armature: Any, bone: str) -> np.ndarray:
    import bpy

    evaluated = armature.evaluated_get(bpy.context.evaluated_depsgraph_get())
    world = np.array(evaluated.matrix_world, dtype=np.float64)
    head = np.array(evaluated.pose.bones[bone].head, dtype=np.float64)
    return world[:3, :3] @ head + world[:3, 3]


def data_counts() -> dict[str, int]:
    import bpy

    kinds = ("objects", "meshes", "armatures", "collections", "actions")
    return {kind: len(getattr(bpy.data, kind)) for kind in kinds}


def fcurve_paths(obj: Any) -> set[str]:
    """Data paths of the F-curves animating obj (slotted actions in Blender 4.4+, legacy before)."""
    anim = obj.animation_data
    if anim is None or anim.action is None:
        return set()
    action = anim.action
    if hasattr(action, "fcurves") and not hasattr(action, "layers"):
        return {fc.data_path for fc in action.fcurves}
    from bpy_extras import anim_utils

    bag = anim_utils.action_get_channelbag_for_slot(action, anim.action_slot)
    return {fc.data_path for fc in bag.fcurves} if bag is not None else set()
