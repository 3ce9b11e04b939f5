"""One render of a Cycles or EEVEE shot with avatars: set up before it, undone after it.

begin() (render_init): the avatar layer scene, the driver meshes as shadow-only proxies and the
compositor merge; frame() (render_pre, each frame): the layer follows the shot's camera, frame and
settings; end() (render_complete / render_cancel): everything put back, the layer scene removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bpy.types import Scene

from ...engine.settings import engine_settings
from . import compositor, layer_scene, shadow_proxy
from .restore import Ledger

# Engines whose renders take the avatar layer: they fill the Depth pass the merge compares and
# honour ray visibility (Workbench draws the driver meshes whatever it says: left out).
SHOT_ENGINES = frozenset({"CYCLES", "BLENDER_EEVEE"})


@dataclass
class ShotSession:
    scene: Scene
    layer: Scene
    ledger: Ledger
    messages: list[str] = field(default_factory=list)


# Module-level by necessity: a render's set-up lives between two app handler calls.
_sessions: dict[str, ShotSession] = {}
_last_messages: dict[str, list[str]] = {}


def wanted(scene: Scene) -> bool:
    return (
        scene.render.engine in SHOT_ENGINES
        and not scene.name.startswith(layer_scene.LAYER_PREFIX)
        and bool(engine_settings(scene).avatars_in_renders)
        and bool(layer_scene.splat_objects(scene))
    )


def begin(scene: Scene) -> ShotSession | None:
    if scene.name in _sessions:  # a render that never finished: put its changes back first
        end(scene)
    if not wanted(scene):
        return None
    settings = engine_settings(scene)
    ledger = Ledger()
    layer = layer_scene.create_layer_scene(scene)
    ledger.on_undo(lambda: layer_scene.remove_layer_scene(layer))
    session = ShotSession(scene, layer, ledger)
    splats = layer_scene.splat_objects(scene)
    shadow_proxy.install(
        scene, splats, ledger, cast=bool(settings.shadow_proxy), shrink=float(settings.shadow_shrink)
    )
    report = compositor.install(scene, layer, ledger)
    session.messages += report.problems
    session.messages += [
        f"the {name} pass is not merged with the avatar layer (it holds the scene only)"
        for name in sorted(set(report.unmerged_passes))
    ]
    for message in session.messages:
        print(f"Gaussian Avatar: {message}")
    _sessions[scene.name] = session
    return session


def frame(scene: Scene) -> None:
    session = _sessions.get(scene.name)
    if session is not None:
        layer_scene.sync_layer_scene(scene, session.layer)


def end(scene: Scene) -> None:
    session = _sessions.pop(scene.name, None)
    if session is None:
        return
    errors = session.ledger.undo()
    _last_messages[scene.name] = session.messages + [f"could not restore: {e}" for e in errors]


def end_all() -> None:
    """Puts back every render's set-up still in place (a render that never reported its end)."""
    for session in list(_sessions.values()):
        end(session.scene)


def is_active(scene: Scene) -> bool:
    return scene.name in _sessions


def last_messages(scene: Scene) -> list[str]:
    """What the last shot render of scene reported (unmerged passes, problems)."""
    return list(_last_messages.get(scene.name, []))
