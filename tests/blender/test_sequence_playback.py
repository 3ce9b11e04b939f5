"""4D sequences in Blender (real bpy): gavatar.import_sequence makes a splat object that follows
the scene frame; scrubbing to frame k shows frame k's Gaussians (the numpy path and the engine's
GPU copy), F12 renders frame k as the reference rasterizer does, the PLY sequence export writes
each frame, and damaged files are refused with nothing created."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import bpy
import numpy as np
import pytest

from core.avatar.ply import read_ply
from core.avatar.sequence_file import SequenceFile
from tests.fixtures.engine import addon_module
from tests.fixtures.sequence import write_moving_sequence

render = pytest.importorskip("tests.engine.test_render")


@pytest.fixture
def sequence_file(tmp_path: Path) -> Path:
    path = tmp_path / "moving.gavatar4d"
    write_moving_sequence(path, up_axis="Y", split=True)  # still, moving and blinking Gaussians
    return path


def _import(path: Path, start: int = 1) -> bpy.types.Object:
    assert bpy.ops.gavatar.import_sequence(filepath=str(path), start=start) == {"FINISHED"}
    obj = bpy.context.view_layer.objects.active
    assert obj is not None and addon_module("engine.splats.data").settings(obj).sequence_path
    return obj


def test_scrubbing_shows_each_frames_gaussians(clean_scene: None, sequence_file: Path) -> None:
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 2
    obj = _import(sequence_file, start=3)
    assert scene.frame_end == 3 + 5  # extended to hold the 6 frames (24 fps on 24 fps)
    assert tuple(round(a, 6) for a in obj.rotation_euler) == (round(np.pi / 2, 6), 0.0, 0.0)  # Y-up file
    runtime = addon_module("engine.splats.runtime")
    seq = SequenceFile(sequence_file)
    for scene_frame, k in ((3, 0), (6, 3), (8, 5), (1, 0), (20, 5), (4, 1)):
        scene.frame_set(scene_frame)
        depsgraph = bpy.context.evaluated_depsgraph_get()
        shown = runtime.posed_gaussians(obj, depsgraph)
        expected = seq.frame(k)
        np.testing.assert_array_equal(shown.means, expected.means)
        np.testing.assert_array_equal(shown.quats, expected.quats)
        np.testing.assert_array_equal(shown.opacity_logits, expected.opacity_logits)


def test_f12_renders_the_frame_the_scene_shows(
    clean_scene: None, sequence_file: Path, tmp_path: Path
) -> None:
    width, height = 80, 60
    camera = render.setup_scene(width, height)
    obj = _import(sequence_file)
    render.look_at(camera, np.array([0.3, -2.6, 0.4]), np.array([0.2, 0.0, 0.0]))
    bpy.context.view_layer.update()
    seq = SequenceFile(sequence_file)
    images = []
    for k in (1, 4):
        bpy.context.scene.frame_set(1 + k)
        image = render.render_png(tmp_path / f"f{k}.png")
        expected, alphas, _ = render.reference_render(
            seq.gaussians(k), render.world_to_camera(camera) @ np.array(obj.matrix_world, dtype=np.float64),
            render.camera_intrinsics(camera, width, height), width, height,
            render.srgb_from_linear(render.WORLD_LINEAR),
        )  # fmt: skip
        assert alphas.max() > 0.9
        assert render.psnr(image, expected) >= render.PSNR_MIN
        images.append(image)
    assert render.psnr(images[0], images[1]) < 25.0  # the frames differ


def test_ply_sequence_export_writes_each_frame(
    clean_scene: None, sequence_file: Path, tmp_path: Path
) -> None:
    transform = addon_module("core.avatar.transform")
    obj = _import(sequence_file)
    out = tmp_path / "plys"
    result = bpy.ops.gavatar.export_ply_sequence(
        directory=str(out), frame_start=1, frame_end=4, prefix="seq_", use_selection=True
    )
    assert result == {"FINISHED"}
    seq = SequenceFile(sequence_file)
    matrix = np.array(obj.matrix_world, dtype=np.float64)
    for frame in range(1, 5):
        written = read_ply(out / f"seq_{frame:06d}.ply")
        expected = transform.transform_gaussians(seq.gaussians(frame - 1), matrix)
        np.testing.assert_allclose(written.means, expected.means, atol=1e-5)
        np.testing.assert_allclose(written.sh, expected.sh, atol=1e-5)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "missing", "listing"])
def test_damaged_files_are_refused_cleanly(clean_scene: None, sequence_file: Path, damage: str) -> None:
    raw = sequence_file.read_bytes()
    bad = sequence_file.with_name("bad.gavatar4d")
    if damage == "truncated":
        bad.write_bytes(raw[: len(raw) * 2 // 3])
        message = "truncated|not a readable"
    elif damage == "flipped":
        with zipfile.ZipFile(sequence_file) as z:
            info = z.getinfo("frames/quats.npy")
        at = info.header_offset + 30 + len(info.filename) + len(info.extra) + 300
        bad.write_bytes(raw[:at] + bytes([raw[at] ^ 0x55]) + raw[at + 1 :])
        message = "checksum mismatch"
    elif damage == "listing":  # a consistent zip whose frame 2 lists one Gaussian fewer than it stores
        with zipfile.ZipFile(sequence_file) as z:
            members = {name: z.read(name) for name in z.namelist()}
        bits = np.load(io.BytesIO(members["frames/listed.npy"]))
        bits[2, 27] &= 0b1111_1110  # Gaussian 216: listed (moving, at an even frame) in the good file
        buffer = io.BytesIO()
        np.save(buffer, bits)
        members["frames/listed.npy"] = buffer.getvalue()
        with zipfile.ZipFile(bad, "w", zipfile.ZIP_STORED) as z:
            for name, data in members.items():
                z.writestr(name, data)
        message = "frame 2 lists 159 Gaussians but stores 160 entries"
    else:
        message = "does not exist"
    before = (len(bpy.data.objects), len(bpy.data.meshes))
    with pytest.raises(RuntimeError, match=f"Cannot import the sequence: .*({message})"):
        bpy.ops.gavatar.import_sequence(filepath=str(bad))
    assert (len(bpy.data.objects), len(bpy.data.meshes)) == before


def test_a_file_gone_after_import_is_reported_not_drawn(
    clean_scene: None, sequence_file: Path, tmp_path: Path
) -> None:
    camera = render.setup_scene(40, 30)
    obj = _import(sequence_file)
    render.look_at(camera, np.array([0.3, -2.6, 0.4]), np.array([0.2, 0.0, 0.0]))
    sequence_file.unlink()
    with pytest.raises(addon_module("core.avatar.sequence_file").SequenceFileError, match="is missing"):
        addon_module("engine.splats.runtime").posed_gaussians(obj, bpy.context.evaluated_depsgraph_get())
    # F12 skips the broken object with a warning (a broken avatar never fails the whole shot):
    # the image is the scene without it, the world colour everywhere.
    image = render.render_png(tmp_path / "gone.png")
    assert np.abs(image - image[0, 0]).max() <= 1.5 / 255


def test_the_sequence_plays_after_saving_and_reopening(
    clean_scene: None, sequence_file: Path, tmp_path: Path
) -> None:
    blend = sequence_file.parent / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    obj = _import(sequence_file)  # stored relative to the saved .blend
    assert addon_module("engine.splats.data").settings(obj).sequence_path.startswith("//")
    name = obj.name
    bpy.ops.wm.save_mainfile()
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    obj = bpy.data.objects[name]
    bpy.context.scene.frame_set(1 + 4)
    shown = addon_module("engine.splats.runtime").posed_gaussians(obj, bpy.context.evaluated_depsgraph_get())
    np.testing.assert_array_equal(shown.means, SequenceFile(sequence_file).frame(4).means)
