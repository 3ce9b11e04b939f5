"""A GaussianAvatars result folder -> a FLAME rig from the user's model with the avatar bound to it
and the file's motion as keyframes (what ``gavatar.import_gaussianavatars`` runs).

Everything is read and checked first (core/interop/gaussian_avatars.py); a failure after that
removes whatever was created, so a bad folder imports nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import bpy
from bpy.types import Context

from ...core.interop import gaussian_avatars
from ...core.interop.errors import InteropError
from ...core.rig.errors import ModelFileError
from ...core.rig.model import RigModel
from .. import avatar_io as avatar_import
from ..animate import reenact
from ..animate.errors import AnimateError
from ..rig import model_source


@dataclass
class GaImportOptions:
    model_path: str = ""  # empty: the add-on preference
    fps_mode: str = "SOURCE"  # one key per tracked timestep at source_fps, or resampled to the scene's
    source_fps: float = 25.0  # their files carry no frame rate
    frame_start: int = 1
    set_scene_range: bool = True
    use_motion: bool = True


@dataclass
class GaImportResult:
    imported: avatar_import.ImportedAvatar
    num_gaussians: int
    teeth_dropped: int
    frames: int
    seconds: float
    notes: list[str] = field(default_factory=list)


def load_flame_model(model_path: str) -> tuple[RigModel, str]:
    """The user's FLAME model (the importer's path, else the preference: the operator passes the
    one that applies). No stand-in: their results are bound to FLAME's own triangles."""
    chosen = bpy.path.abspath(model_path)
    if not chosen:
        raise InteropError(
            "GaussianAvatars results are bound to FLAME's triangles: set the FLAME model file "
            "(flame2023.pkl) in the add-on preferences or in the importer"
        )
    try:
        path = model_source.resolve_model_path("FLAME", chosen, "", "neutral")
        return model_source.load("FLAME", path), str(path)
    except (model_source.ModelSourceError, ModelFileError, OSError) as exc:
        raise InteropError(f"cannot load the FLAME model: {exc}") from None


def import_gaussianavatars(context: Context, folder: str, options: GaImportOptions) -> GaImportResult:
    """Reads, converts and imports a result folder; raises InteropError / AvatarImportError /
    AnimateError with one sentence, leaving nothing behind."""
    started = time.perf_counter()
    result = gaussian_avatars.read_result(folder)
    model, model_file = load_flame_model(options.model_path)
    conversion = gaussian_avatars.convert(result, model)
    name = Path(folder).resolve().name or "GaussianAvatars"
    before = avatar_import.snapshot_data()
    try:
        imported = avatar_import.import_loaded_avatar(
            context, conversion.avatar, name, model=model, model_path=model_file, object_name=name
        )
        notes = [*conversion.notes, *imported.notes]
        frames = 0
        if options.use_motion:
            motion = reenact.ReenactOptions(
                fps_mode=options.fps_mode,
                source_fps=options.source_fps,
                frame_start=options.frame_start,
                use_translation=True,
                new_action=False,
                set_scene_range=options.set_scene_range,
            )
            keyed = reenact.apply_sequence(context, imported.rig, conversion.sequence, motion, name)
            notes += keyed.warnings
            frames = keyed.frames
    except AnimateError as exc:
        avatar_import.remove_created(before)
        raise InteropError(f"cannot key the motion of '{name}': {exc}") from None
    except BaseException:
        avatar_import.remove_created(before)
        raise
    return GaImportResult(
        imported=imported,
        num_gaussians=len(conversion.avatar),
        teeth_dropped=conversion.teeth_dropped,
        frames=frames,
        seconds=time.perf_counter() - started,
        notes=notes,
    )
