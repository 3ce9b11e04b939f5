"""register()/unregister() leave nothing behind, and the Blender-side code never needs torch."""

from __future__ import annotations

import json

import bpy
import pytest

from tests.fixtures.blender_helpers import ADDON_MODULE, run_python


def _blender_state() -> dict[str, object]:
    handler_lists = {
        name: len(getattr(bpy.app.handlers, name))
        for name in dir(bpy.app.handlers)
        if isinstance(getattr(bpy.app.handlers, name), list)
    }
    return {
        "classes": sorted(name for name in dir(bpy.types) if name.startswith("GAVATAR")),
        "operators": sorted(dir(bpy.ops.gavatar)),
        "handlers": handler_lists,
        "scene_prop": hasattr(bpy.types.Scene, "gavatar"),
        "import_menu": len(bpy.types.TOPBAR_MT_file_import._dyn_ui_initialize()),
        "export_menu": len(bpy.types.TOPBAR_MT_file_export._dyn_ui_initialize()),
    }


def test_twenty_register_cycles_leave_nothing_behind(addon: str) -> None:
    import addon_utils

    addon_utils.disable(ADDON_MODULE, default_set=True)
    before = _blender_state()
    assert before["classes"] == [] and not before["scene_prop"]
    for _ in range(20):
        addon_utils.enable(ADDON_MODULE, default_set=True)
        during = _blender_state()
        assert "GAVATAR_OT_check_setup" in during["classes"]
        assert during["scene_prop"]
        addon_utils.disable(ADDON_MODULE, default_set=True)
        assert _blender_state() == before
    import importlib

    handlers = importlib.import_module(ADDON_MODULE + ".engine.hooks")
    assert handlers.active_count() == 0
    addon_utils.enable(ADDON_MODULE, default_set=True)


NO_TORCH_SCRIPT = r"""
import importlib.abc, json, sys

class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
        return None

sys.meta_path.insert(0, BlockTorch())
import bpy
from tests.fixtures.blender_helpers import enable_addon_from_source, ADDON_MODULE
enable_addon_from_source()
import pkgutil, importlib
top = importlib.import_module(ADDON_MODULE)
imported = []
for package in ("addon", "ops", "blender", "engine", "core"):
    pkg = importlib.import_module(f"{ADDON_MODULE}.{package}")
    for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
        importlib.import_module(info.name)
        imported.append(info.name)
print("RESULT" + json.dumps({"imported": imported, "torch_loaded": "torch" in sys.modules,
                             "ops": sorted(dir(bpy.ops.gavatar))}))
"""


def test_blender_side_imports_and_registers_without_torch(tmp_path) -> None:
    proc = run_python(NO_TORCH_SCRIPT, env={"BLENDER_USER_RESOURCES": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT"))
    result = json.loads(line[len("RESULT") :])
    assert not result["torch_loaded"]
    assert "check_setup" in result["ops"]
    assert any(name.endswith(".core.paths") for name in result["imported"])


@pytest.mark.parametrize(
    "prop",
    ["trainer_python", "flame_model_path", "smplx_model_path", "amass_model_dir", "cache_dir", "device"],
)
def test_preference_names_scripts_rely_on(addon: str, prop: str) -> None:
    prefs = bpy.context.preferences.addons[addon].preferences
    assert prop in prefs.bl_rna.properties
