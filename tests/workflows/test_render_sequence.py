"""gavatar.render_sequence (real bpy): a frame range through Blender's output settings, with progress.

These runs use the Workbench engine on an AMASS-driven rig; the GAVATAR engine's pixel-exact test is
tests/workflows/test_render_sequence_gavatar.py.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.blender.animate.test_amass_import import _clip
from tests.fixtures.animate import active_parts
from tests.fixtures.blender_rig_models import make_model


def _scene(tmp_path: Path) -> None:
    from tests.fixtures.animate import module

    module("blender.rig.build").build_rig(make_model("SMPLX", seed=3))
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    assert bpy.ops.gavatar.import_amass(filepath=str(_clip(tmp_path / "walk.npz", frames=31, fps=60.0))) == {
        "FINISHED"
    }
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(camera)
    camera.location = (0.3, -3.5, 1.0)
    camera.rotation_euler = (np.radians(85.0), 0.0, 0.0)
    scene.camera = camera
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x, scene.render.resolution_y = 64, 48
    scene.render.resolution_percentage = 100


def _pixels(path: str) -> np.ndarray:
    image = bpy.data.images.load(path)
    try:
        out = np.empty(image.size[0] * image.size[1] * image.channels, dtype=np.float32)
        image.pixels.foreach_get(out)
        return out.reshape(image.size[1], image.size[0], image.channels)
    finally:
        bpy.data.images.remove(image)


def test_png_sequence_with_progress(addon: str, clean_scene: None, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _scene(tmp_path)
    scene = bpy.context.scene
    before = (
        scene.render.filepath,
        scene.render.image_settings.file_format,
        scene.frame_start,
        scene.frame_end,
    )
    out = tmp_path / "renders" / "frame_####"
    result = bpy.ops.gavatar.render_sequence(frame_start=2, frame_end=9, filepath=str(out), file_format="PNG")
    assert result == {"FINISHED"}
    files = sorted((tmp_path / "renders").glob("frame_*.png"))
    assert [f.name for f in files] == [f"frame_{i:04d}.png" for i in range(2, 10)]
    images = [_pixels(str(f)) for f in files]
    for image in images:
        assert np.ptp(image[..., :3]) > 0.05  # not empty: the rig is in view
    for a, b in itertools.pairwise(images):
        assert np.abs(a - b).max() > 1e-3  # the animation moves between frames
    err = capsys.readouterr().err
    assert "(1 of 8)" in err and "(8 of 8)" in err
    after = (
        scene.render.filepath,
        scene.render.image_settings.file_format,
        scene.frame_start,
        scene.frame_end,
    )
    assert after == before  # overrides are put back


def test_exr_with_depth_and_video(addon: str, clean_scene: None, tmp_path: Path) -> None:
    _scene(tmp_path)
    assert active_parts() is not None
    ok = bpy.ops.gavatar.render_sequence(
        frame_start=1, frame_end=3, filepath=str(tmp_path / "exr" / "f_"), file_format="OPEN_EXR_MULTILAYER"
    )
    assert ok == {"FINISHED"}
    exrs = sorted((tmp_path / "exr").glob("f_*.exr"))
    assert len(exrs) == 3
    header = exrs[0].read_bytes()[:20000]
    assert b"Depth" in header or b".Z" in header  # the depth pass travels in the multilayer file
    assert not bpy.context.scene.view_layers[0].use_pass_z  # restored
    ok = bpy.ops.gavatar.render_sequence(
        frame_start=1, frame_end=6, filepath=str(tmp_path / "video" / "clip_"), file_format="FFMPEG"
    )
    assert ok == {"FINISHED"}
    videos = list((tmp_path / "video").iterdir())
    assert len(videos) == 1 and videos[0].suffix == ".mp4" and videos[0].stat().st_size > 1000


def test_bad_requests(addon: str, clean_scene: None, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no camera"):
        bpy.ops.gavatar.render_sequence(frame_start=1, frame_end=2)
    _scene(tmp_path)
    with pytest.raises(RuntimeError, match="is empty"):
        bpy.ops.gavatar.render_sequence(frame_start=5, frame_end=2)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RuntimeError, match="Cannot write renders"):
        bpy.ops.gavatar.render_sequence(frame_start=1, frame_end=1, filepath=str(blocker / "sub" / "f_"))


def test_gaussian_avatar_engine_by_name(addon: str, clean_scene: None, tmp_path: Path) -> None:
    """engine='GAVATAR' finds the add-on's engine (the RNA enum read statically lists only Eevee)."""
    _scene(tmp_path)
    scene = bpy.context.scene
    engine_before = scene.render.engine
    out = tmp_path / "gavatar" / "f_"
    ok = bpy.ops.gavatar.render_sequence(
        frame_start=1, frame_end=1, filepath=str(out), file_format="PNG", engine="GAVATAR"
    )
    assert ok == {"FINISHED"}
    assert (tmp_path / "gavatar" / "f_0001.png").stat().st_size > 0
    assert scene.render.engine == engine_before  # the override is put back


def test_unsaved_relative_output_is_refused_and_pngs_keep_alpha(
    addon: str, clean_scene: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'//' in an unsaved file would land in the working folder: refused with a sentence, nothing
    written. Once the file is saved it resolves beside it; PNGs are RGBA, like the farm's."""
    from PIL import Image

    _scene(tmp_path)
    work = tmp_path / "working_folder"
    work.mkdir()
    monkeypatch.chdir(work)
    assert not bpy.data.filepath
    with pytest.raises(RuntimeError, match=r"relative to the \.blend file \('//'\), which is not saved yet"):
        bpy.ops.gavatar.render_sequence(
            frame_start=1, frame_end=2, filepath="//render/frame_", file_format="PNG"
        )
    assert not any(work.rglob("*"))  # nothing half-written anywhere
    assert bpy.context.scene.render.film_transparent is False
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    ok = bpy.ops.gavatar.render_sequence(
        frame_start=1, frame_end=2, filepath="//render/frame_", file_format="PNG"
    )
    assert ok == {"FINISHED"}
    files = sorted((tmp_path / "render").glob("frame_*.png"))
    assert len(files) == 2 and not any(work.rglob("*"))
    with Image.open(files[0]) as image:
        assert image.mode == "RGBA"


def test_the_panel_button_invokes_the_dialog_with_the_scenes_output_and_range(
    addon: str, clean_scene: None, tmp_path: Path
) -> None:
    """The Animate panel's button invokes the operator: a dialog (output, range, format) filled
    from the scene comes first. Background Blender has no window, so Blender confirms the dialog
    at once: what renders is what the dialog would have shown."""
    _scene(tmp_path)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end, scene.frame_step = 4, 8, 2
    scene.render.filepath = str(tmp_path / "dialog" / "f_")
    scene.render.image_settings.file_format = "PNG"
    assert bpy.ops.gavatar.render_sequence("INVOKE_DEFAULT") == {"FINISHED"}
    assert sorted(f.name for f in (tmp_path / "dialog").iterdir()) == [
        "f_0004.png",
        "f_0006.png",
        "f_0008.png",
    ]
