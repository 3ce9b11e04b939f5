"""The avatar's driver meshes in a Cycles or EEVEE render: invisible to the camera (they would show
as grey) and to reflections, visible to shadow rays so the avatar casts a shadow on the set.

With a shrink, a temporary copy of the driver (same mesh data and modifiers, plus a Displace
along the normals) casts the shadow instead, and the driver itself is invisible to every ray:
the splats stay bound to the unchanged driver."""

from __future__ import annotations

from collections.abc import Callable

import bpy
import numpy as np
from bpy.types import Object, Scene

from ...engine.splats import data as splat_data
from .restore import Ledger

# Object ray visibility (Cycles; EEVEE honours camera and shadow).
HIDDEN_RAYS = (
    "visible_camera",
    "visible_diffuse",
    "visible_glossy",
    "visible_transmission",
    "visible_volume_scatter",
)
SHRINK_MODIFIER = "GAVATAR shadow shrink"


def drivers(splat_objects: list[Object]) -> list[Object]:
    """The driver meshes of splat_objects that are not shown on purpose (show_driver off)."""
    found: dict[str, Object] = {}
    for obj in splat_objects:
        driver = splat_data.splat_driver(obj)
        if driver is not None and not splat_data.settings(obj).show_driver:
            found[driver.name] = driver
    return list(found.values())


def _hide(obj: Object, ledger: Ledger, *, shadow: bool) -> None:
    for name in HIDDEN_RAYS:
        ledger.set(obj, name, False)
    ledger.set(obj, "visible_shadow", shadow)


def install(scene: Scene, splat_objects: list[Object], ledger: Ledger, *, cast: bool, shrink: float) -> None:
    for driver in drivers(splat_objects):
        if not cast or shrink == 0.0:
            _hide(driver, ledger, shadow=cast)
            continue
        _hide(driver, ledger, shadow=False)
        proxy = _shrunk_copy(scene, driver, shrink)
        ledger.on_undo(_remover(proxy))
        _hide(proxy, Ledger(), shadow=True)  # removed afterwards: nothing to restore


def _remover(obj: Object) -> Callable[[], None]:
    return lambda: bpy.data.objects.remove(obj)


def _outward_sign(mesh: bpy.types.Mesh) -> float:
    """+1 when the mesh's normals point outwards (positive signed volume), else -1."""
    mesh.calc_loop_triangles()
    corners = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int32)
    mesh.loop_triangles.foreach_get("vertices", corners)
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float64)
    mesh.vertices.foreach_get("co", co)
    tri = co.reshape(-1, 3)[corners.reshape(-1, 3)]
    tri = tri - co.reshape(-1, 3).mean(0)  # about the centre: open meshes keep a meaningful sign
    volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()
    return 1.0 if volume >= 0.0 else -1.0


def _shrunk_copy(scene: Scene, driver: Object, shrink: float) -> Object:
    proxy = driver.copy()  # shares the mesh data; copies modifiers, parent and constraints
    proxy.name = f"{driver.name} (GAVATAR shadow)"
    scene.collection.objects.link(proxy)
    displace = proxy.modifiers.new(SHRINK_MODIFIER, "DISPLACE")
    displace.direction = "NORMAL"  # type: ignore[attr-defined]
    displace.mid_level = 0.0  # type: ignore[attr-defined]
    # Inwards whichever way the mesh's faces wind (a negative volume: normals point inside).
    mesh = driver.data
    assert isinstance(mesh, bpy.types.Mesh)
    displace.strength = -float(shrink) * _outward_sign(mesh)  # type: ignore[attr-defined]
    return proxy
