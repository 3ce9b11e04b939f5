"""The per-object normal-shading switch (obj.gavatar_splat.use_shading / shading_influence): off or
influence 0 gives exactly the unshaded colour, other influences scale the shading's colour change
linearly, on the CPU and GPU paths, in the engine's cached scene, F12 renders and the PLY-sequence
export; changing it redraws; it keeps through a .blend save/reload; the splat panel shows it only
for avatars with shading (drawn into a real UILayout in a fresh Blender process)."""

from __future__ import annotations

import json
from pathlib import Path

import bpy
import numpy as np
import pytest

from core.avatar import avatar_file
from core.avatar.ply import read_ply
from core.rig import loaders
from tests.blender.test_avatar_import import NUM_EXPRESSION, NUM_SHAPE
from tests.engine.test_render import frame_avatar, render_png, setup_scene
from tests.engine.test_shading_gpu import POSE, _pose, _reference_dc, _world_dc, shaded_avatar
from tests.fixtures.blender_helpers import run_python
from tests.fixtures.engine import addon_module
from tests.fixtures.files import rig_files

EXPRESSION = np.array([0.8, -0.5, 0.3, 0.0])


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    return rig_files.flame_2023_pickle(
        folder, num_vertices=80, num_faces=120, num_shape=NUM_SHAPE, num_expression=NUM_EXPRESSION, seed=4
    )


@pytest.fixture
def posed(clean_scene: None, model_file: Path, tmp_path: Path):
    """The imported shaded avatar in a pose that turns its faces: (object, DC shaded, shading term)."""
    model = loaders.load_model(model_file, family="FLAME")
    path = tmp_path / "lit.gavatar"
    avatar = shaded_avatar(model, path)
    assert bpy.ops.gavatar.import_avatar(filepath=str(path), model_path=str(model_file)) == {"FINISHED"}
    obj = bpy.data.objects["lit"]
    _pose(obj, POSE, EXPRESSION)
    shaded, term = _reference_dc(obj, avatar)
    assert np.abs(term).max() > 0.1  # the faces really turned
    return obj, shaded, term


def _cpu_dc(obj) -> np.ndarray:
    runtime = addon_module("engine.splats.runtime")
    return runtime.posed_gaussians(obj, bpy.context.evaluated_depsgraph_get()).sh[:, 0]


def _unshaded_cpu_dc(obj) -> np.ndarray:
    """The numpy path's DC with the object's shading attribute removed (a copy of the object)."""
    splat_data = addon_module("engine.splats.data")
    copy = obj.copy()
    copy.data = obj.data.copy()
    bpy.context.scene.collection.objects.link(copy)
    copy.data.attributes.remove(copy.data.attributes[splat_data.ATTR_SHADING])
    assert not splat_data.has_shading(copy)
    dc = _cpu_dc(copy)
    bpy.data.objects.remove(copy)
    return dc


def test_switch_and_influence_on_the_cpu_and_gpu_paths(posed) -> None:
    obj, shaded, term = posed
    props = obj.gavatar_splat
    assert props.use_shading and props.shading_influence == 1.0  # on, as trained, by default
    unshaded = shaded - term
    np.testing.assert_allclose(_cpu_dc(obj), shaded, atol=1e-5)

    props.use_shading = False
    off = _cpu_dc(obj)
    np.testing.assert_array_equal(off, _unshaded_cpu_dc(obj))  # exactly the unshaded colour
    np.testing.assert_allclose(off, unshaded, atol=1e-5)
    np.testing.assert_array_equal(_world_dc(obj, "CPU"), off)
    np.testing.assert_allclose(_world_dc(obj, "GPU"), unshaded, atol=2e-5)
    props.shading_influence = 0.5  # the influence does not matter while switched off
    np.testing.assert_array_equal(_cpu_dc(obj), off)

    props.use_shading = True
    props.shading_influence = 0.0
    np.testing.assert_array_equal(_cpu_dc(obj), off)
    np.testing.assert_allclose(_world_dc(obj, "GPU"), unshaded, atol=2e-5)

    for influence in (0.5, 1.7):
        props.shading_influence = influence
        expected = unshaded + influence * term
        np.testing.assert_allclose(_cpu_dc(obj), expected, atol=1e-5)
        np.testing.assert_allclose(_world_dc(obj, "CPU"), expected, atol=1e-5)
        np.testing.assert_allclose(_world_dc(obj, "GPU"), expected, atol=2e-5)


def test_the_engine_cache_follows_the_switch_and_changing_it_redraws(posed) -> None:
    obj, shaded, term = posed
    addon_module("engine.gpu.context").ensure_gpu_context()
    gpu_arrays = addon_module("engine.gpu.arrays")
    cache = addon_module("engine.scene_sync").SceneCache()

    def engine_dc() -> np.ndarray:
        contents = cache.sync(bpy.context.evaluated_depsgraph_get())
        assert not contents.problems and len(contents.splats) == 1
        data = contents.splats[0].data
        return gpu_arrays.read(data.world["world_dc"])[: data.count * 4].reshape(data.count, 4)[:, :3]

    np.testing.assert_allclose(engine_dc(), shaded, atol=2e-5)
    state = cache.splats[obj.name]

    updated: list[str] = []

    def note(_scene, depsgraph) -> None:
        updated.extend(u.id.original.name for u in depsgraph.updates if isinstance(u.id, bpy.types.Object))

    bpy.app.handlers.depsgraph_update_post.append(note)
    try:
        obj.gavatar_splat.use_shading = False
        bpy.context.view_layer.update()
        assert obj.name in updated  # the viewport gets a depsgraph update, so it draws again
        updated.clear()
        obj.gavatar_splat.shading_influence = 0.25
        bpy.context.view_layer.update()
        assert obj.name in updated
    finally:
        bpy.app.handlers.depsgraph_update_post.remove(note)
    obj.gavatar_splat.shading_influence = 1.0
    np.testing.assert_allclose(engine_dc(), shaded - term, atol=2e-5)
    assert cache.splats[obj.name] is state  # a setting, not new data: the GPU copy is kept
    obj.gavatar_splat.use_shading = True
    obj.gavatar_splat.shading_influence = 0.5
    np.testing.assert_allclose(engine_dc(), shaded - 0.5 * term, atol=2e-5)


def test_f12_render_honours_the_switch(posed, tmp_path: Path) -> None:
    obj, _shaded, _term = posed
    width, height = 80, 64
    camera = setup_scene(width, height)
    runtime = addon_module("engine.splats.runtime")
    depsgraph = bpy.context.evaluated_depsgraph_get()
    matrix = np.array(obj.evaluated_get(depsgraph).matrix_world, dtype=np.float64)
    frame_avatar(camera, runtime.posed_gaussians(obj, depsgraph), matrix, distance=0.5)
    props = obj.gavatar_splat
    shaded = render_png(tmp_path / "on.png")
    props.use_shading = False
    off = render_png(tmp_path / "off.png")
    props.use_shading = True
    props.shading_influence = 0.0
    zero = render_png(tmp_path / "zero.png")
    props.shading_influence = 1.0
    again = render_png(tmp_path / "again.png")
    assert np.array_equal(off, zero)
    assert np.array_equal(shaded, again)
    diff = float(np.abs(shaded - off).max())
    print(f"F12, shading on vs off: max pixel change {diff:.3f}")
    assert diff > 0.05


def test_ply_sequence_export_honours_the_switch(posed, tmp_path: Path) -> None:
    obj, shaded, term = posed
    for other in bpy.context.selected_objects:
        other.select_set(False)
    obj.select_set(True)
    frame = bpy.context.scene.frame_current

    def exported_dc(name: str) -> np.ndarray:
        out = tmp_path / name
        assert bpy.ops.gavatar.export_ply_sequence(
            directory=str(out), frame_start=frame, frame_end=frame
        ) == {"FINISHED"}  # fmt: skip
        (path,) = out.iterdir()
        return read_ply(path).sh[:, 0]  # the DC does not change with the object's transform

    np.testing.assert_allclose(exported_dc("on"), shaded, atol=1e-5)
    obj.gavatar_splat.use_shading = False
    np.testing.assert_allclose(exported_dc("off"), shaded - term, atol=1e-5)
    obj.gavatar_splat.use_shading = True
    obj.gavatar_splat.shading_influence = 0.5
    np.testing.assert_allclose(exported_dc("half"), shaded - 0.5 * term, atol=1e-5)


def test_settings_survive_save_and_reload(posed, tmp_path: Path) -> None:
    obj, shaded, term = posed
    obj.gavatar_splat.use_shading = False
    obj.gavatar_splat.shading_influence = 0.3
    blend = tmp_path / "switch.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    props = bpy.data.objects["lit"].gavatar_splat
    assert not props.use_shading
    assert props.shading_influence == pytest.approx(0.3)
    reopened = bpy.data.objects["lit"]
    np.testing.assert_allclose(_cpu_dc(reopened), shaded - term, atol=1e-5)
    # The avatar export keeps the shading itself whatever the switch.
    out = tmp_path / "back.gavatar"
    addon_module("blender.avatar_io").export_avatar(reopened, str(out))
    back = avatar_file.read_avatar(out)
    arrays = addon_module("engine.splats.data").read_arrays(reopened)
    assert back.shading is not None
    np.testing.assert_array_equal(back.shading.matrix, arrays.shading_matrix)
    props.use_shading = True
    np.testing.assert_allclose(_world_dc(reopened, "GPU"), shaded - 0.7 * term, atol=2e-5)


# Draws the real splat panel's draw() into a real UILayout (a popup menu's, begun but never shown:
# ending it needs a drawable window) and reports which properties it drew, per object. A fresh
# process, so the popup left open cannot disturb other tests.
PANEL_SCRIPT = r"""
import json
import bpy
import numpy as np
from tests.fixtures.blender_helpers import enable_addon_from_source
enable_addon_from_source()
from tests.fixtures.engine import addon_module, bound_arrays, static_arrays
from tests.engine.test_shading_gpu import _grid_driver, _with_shading

splat_data = addon_module("engine.splats.data")
panel = addon_module("addon.splat_panel").GAVATAR_PT_splats
driver = _grid_driver()
faces = len(driver.data.polygons)
create = splat_data.create_splat_object
objects = {
    "shaded": create("Shaded", _with_shading(bound_arrays(faces, count=40)), driver=driver),
    "bound": create("Bound", bound_arrays(faces, count=40, seed=3), driver=driver),
    "static": create("Static", static_arrays(30)),
}
objects["shaded"].gavatar_splat.use_shading = False


def drawn(items):
    found = []
    for item in items:
        if "items" in item:
            found += drawn(item["items"])
        elif "rna" in item:
            found.append(item["rna"].split("[")[0].split(".")[-1])
    return found


result = {}
window = bpy.context.window_manager.windows[0]
for key, obj in objects.items():
    area = window.screen.areas[0]
    with bpy.context.temp_override(window=window, screen=window.screen, area=area, object=obj):
        assert panel.poll(bpy.context)
        popup = bpy.context.window_manager.popmenu_begin__internal(key, icon="NONE")
        panel.draw(popup, bpy.context)
        result[key] = drawn(popup.layout.introspect())
print("RESULT" + json.dumps(result))
"""


def test_splat_panel_draws_the_switch_only_for_shaded_avatars(tmp_path: Path) -> None:
    proc = run_python(PANEL_SCRIPT, env={"BLENDER_USER_RESOURCES": str(tmp_path)}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "property not found" not in proc.stdout + proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT"))
    drawn = json.loads(line[len("RESULT") :])
    assert drawn["shaded"][-2:] == ["use_shading", "shading_influence"], drawn
    for key in ("bound", "static"):
        assert "max_sh_degree" in drawn[key]
        assert "use_shading" not in drawn[key] and "shading_influence" not in drawn[key], drawn
