"""What one GAVATAR image shows, gathered from a depsgraph: the splat objects (their GPU state,
deformed for this frame) and the scene's other meshes (solid batches), cached between redraws.

The viewport calls ``note_updates`` + ``sync`` from view_update (data, frame or pose changed) and
reuses the last contents in view_draw (only the view changed: project, sort and draw again).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np
from bpy.types import Depsgraph, Object

from ..core.avatar.sequence_file import SequenceFileError
from .frame import SplatDraw
from .gpu import arrays as gpu_arrays
from .gpu.arrays import GpuLimitError
from .passes import meshes as mesh_pass
from .splats import data as splat_data
from .splats import integrity, range_guard
from .splats.data import SplatDataError
from .splats.driver_mesh import DriverMeshError
from .splats.runtime import Device, SplatObjectState


@dataclass
class SceneContents:
    splats: list[SplatDraw] = field(default_factory=list)
    meshes: list[mesh_pass.MeshDraw] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _data_key(obj: Object) -> tuple[object, ...]:
    """What a splat state was built from; a different key means rebuild."""
    props = splat_data.settings(obj)
    mesh = obj.data
    assert isinstance(mesh, bpy.types.Mesh)
    driver = props.driver
    return (
        mesh.session_uid,
        len(mesh.vertices),
        int(props.sh_degree),
        int(props.dynamics_rank),
        driver.session_uid if driver is not None else None,
        str(props.sequence_path),
    )


def _hidden_drivers(depsgraph: Depsgraph, shown_splats: set[str]) -> set[str]:
    """Driver meshes not to draw: every splat object's in the scene, so hiding an avatar's splat
    object hides the whole avatar, except those whose shown splat object asks to show its driver."""
    scene = depsgraph.scene_eval or depsgraph.scene
    hidden: set[str] = set()
    for obj in scene.objects if scene is not None else ():
        original = obj.original or obj
        if not splat_data.is_splat_object(original):
            continue
        driver = splat_data.splat_driver(original)
        if driver is None:
            continue
        if original.name in shown_splats and splat_data.settings(original).show_driver:
            continue
        hidden.add(driver.name)
    return hidden


class SceneCache:
    def __init__(self) -> None:
        self.splats: dict[str, SplatObjectState] = {}
        self._keys: dict[str, tuple[object, ...]] = {}
        self.meshes = mesh_pass.MeshBatchCache()

    def clear(self) -> None:
        self.splats.clear()
        self._keys.clear()
        self.meshes.clear()

    def note_updates(self, depsgraph: Depsgraph) -> None:
        """Drops cached data of objects whose geometry changed (edits, undo, scripts)."""
        for update in depsgraph.updates:
            if not update.is_updated_geometry or update.id is None:
                continue
            owner = update.id.original
            if isinstance(owner, Object):
                self.meshes.forget(owner.name)
                self.splats.pop(owner.name, None)
            elif isinstance(owner, bpy.types.Mesh):
                for name in list(self.splats):
                    obj = bpy.data.objects.get(name)
                    if obj is None or obj.data == owner:
                        self.splats.pop(name, None)

    def _state(self, obj: Object) -> SplatObjectState:
        original = obj.original or obj
        key = _data_key(original)
        state = self.splats.get(original.name)
        if state is None or self._keys.get(original.name) != key:
            state = SplatObjectState(original)
            self.splats[original.name] = state
            self._keys[original.name] = key
        return state

    def sync(
        self,
        depsgraph: Depsgraph,
        *,
        deform: bool = True,
        deform_device: Device = "GPU",
        sort_device: Device = "GPU",
        splat_scale: float = 1.0,
        meshes: bool = True,
    ) -> SceneContents:
        """meshes: also gather the scene's other meshes (off: splat objects only)."""
        contents = SceneContents()
        splat_instances: list[tuple[Object, np.ndarray]] = []
        mesh_instances: list[tuple[Object, np.ndarray]] = []
        for instance in depsgraph.object_instances:
            obj = instance.object
            if obj is None or obj.type != "MESH":
                continue
            matrix = np.array(instance.matrix_world, dtype=np.float64)
            original = obj.original or obj
            if splat_data.is_splat_object(original):
                splat_instances.append((obj, matrix))
            elif meshes:
                mesh_instances.append((obj, matrix))
        shown = {(obj.original or obj).name for obj, _matrix in splat_instances}
        hidden_drivers = _hidden_drivers(depsgraph, shown)
        for obj, matrix in splat_instances:
            original = obj.original or obj
            props = splat_data.settings(original)
            problem = integrity.avatar_problem(original)
            if problem:
                contents.problems.append(f"{problem} It is skipped.")
                continue
            try:
                state = self._state(obj)
                state.source.use_dynamics = bool(props.use_dynamics)
                state.source.dynamics_influence = float(props.dynamics_influence)
                state.source.shading_scale = splat_data.shading_scale(original)
                state.source.shading_rotation = splat_data.light_turn(original, depsgraph)
                state.source.guard = range_guard.state_of(original)
                if deform and state.is_animated:
                    state.deform(depsgraph, deform_device)
                    if sort_device == "CPU" and deform_device == "GPU" and state.is_bound:
                        # The numpy sort needs this frame's means: read them back.
                        world_mean = gpu_arrays.read(state.data.world["world_mean"])
                        state.means = world_mean[: state.data.count * 4].reshape(-1, 4)[:, :3].copy()
            except (SplatDataError, DriverMeshError, GpuLimitError, SequenceFileError) as error:
                contents.problems.append(f"{original.name}: {error}")
                continue
            contents.splats.append(
                SplatDraw(
                    state.data,
                    matrix,
                    splat_scale=splat_scale,
                    max_sh_degree=int(props.max_sh_degree),
                    cpu_means=state.means if sort_device == "CPU" else None,
                    tint=splat_data.light_tint(original, depsgraph),
                    pass_index=int(original.pass_index),
                    name=original.name,
                )
            )
        # Free the GPU copies of splat objects that are gone (deleted, hidden, renamed).
        seen = {(obj.original or obj).name for obj, _matrix in splat_instances}
        for name in set(self.splats) - seen:
            del self.splats[name]
            self._keys.pop(name, None)
        for obj, matrix in mesh_instances:
            if (obj.original or obj).name in hidden_drivers:
                continue
            draw = self.meshes.draw_of(obj, matrix)  # type: ignore[arg-type]
            if draw is not None:
                contents.meshes.append(draw)
        return contents
