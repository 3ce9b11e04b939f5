"""File > Import > Gaussian Avatar > Track Video, in real Blender with the real tracker
(``python -m training track`` in the trainer's Python): a generated clip of the FLAME stand-in is
tracked and imported as a scene; a clip without a face is refused with the tracker's sentence and
leaves no folder behind."""

from __future__ import annotations

import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

pytest.importorskip("mediapipe")

from core.rig.loaders import load_model
from tests.fixtures.blender_helpers import ADDON_MODULE
from tests.fixtures.standin import standin_dir, standin_paths  # noqa: F401
from training.track import groundtruth as gt
from training.track.shading import head_look

pytestmark = pytest.mark.slow  # each run starts the tracker in a subprocess (20-40 s on 2 cores)


@pytest.fixture
def prefs(clean_scene: None, standin_paths: dict[str, Path], tmp_path: Path):  # noqa: F811
    p = bpy.context.preferences.addons[ADDON_MODULE].preferences
    saved = {k: getattr(p, k) for k in ("trainer_python", "flame_model_path", "cache_dir")}
    p.trainer_python = sys.executable
    p.flame_model_path = str(standin_paths["FLAME"])
    p.cache_dir = str(tmp_path / "cache")
    yield p
    for key, value in saved.items():
        setattr(p, key, value)


def write_clip(folder: Path, frames: list[np.ndarray]) -> Path:
    from PIL import Image

    folder.mkdir(parents=True)
    for t, image in enumerate(frames):
        Image.fromarray(image).save(folder / f"{t:04d}.png")
    return folder


def test_track_video_tracks_a_clip_and_imports_it(
    prefs,
    standin_paths: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    model = load_model(standin_paths["FLAME"], family="FLAME")
    seq = gt.talking_sequence(model, 4, max_yaw_deg=15.0)
    clip = write_clip(
        tmp_path / "clip",
        gt.render_frames(model, head_look(model), gt.posed_vertices(model, seq), gt.front_view(model, 160)),
    )
    out = tmp_path / "tracked"
    result = bpy.ops.gavatar.track_video(filepath=str(clip), output_dir=str(out), device="cpu", wait=True)
    assert result == {"FINISHED"}
    assert (out / "track.json").is_file() and len(list((out / "images").iterdir())) == 4
    cameras = [o for o in bpy.context.scene.objects if o.type == "CAMERA"]
    assert cameras, "the tracked dataset's camera is in the scene"
    meshes = [o for o in bpy.context.scene.objects if o.type in {"MESH", "ARMATURE"}]
    assert meshes, "the tracked rig is in the scene"


def test_track_video_refuses_a_clip_without_a_face(prefs, tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "blank", [np.full((96, 96, 3), 120, np.uint8)] * 3)
    out = tmp_path / "tracked"
    with pytest.raises(RuntimeError, match="No face found in 3 of 3 frames"):
        bpy.ops.gavatar.track_video(filepath=str(clip), output_dir=str(out), device="cpu", wait=True)
    assert not out.exists()
