"""Distributed rendering with the real bpy module: gavatar.render_distributed on 2 local worker
processes against a single-process render of the same frames (pixel-exact), frames already on
disk skipped on a re-run, a failing chunk retried once and reported, cancel, and the Flamenco job:
exported from the scene, compiled by the shipped job type, its task command run for real."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bpy
import numpy as np
import pytest
from PIL import Image

from core.farm import commands, flamenco
from core.farm.runner import FAILED, FarmRun
from tests.fixtures.blender_helpers import ADDON_MODULE, ROOT
from tests.fixtures.engine import addon_module
from tests.fixtures.farm import save_avatar_scene


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def _frames(folder: Path) -> dict[int, Path]:
    return {int(p.stem.split("_")[-1]): p for p in sorted(folder.glob("f_*.png")) if p.is_file()}


# The tests compare the farm's temporary folders before and after: one xdist worker runs them all.
pytestmark = pytest.mark.xdist_group("render_farm")


def _farm_temp_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("gavatar-farm-*")}


def test_two_workers_render_the_frames_one_process_renders(
    addon: str, clean_scene: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blend = save_avatar_scene(tmp_path / "shot.blend", tmp_path / "farm" / "f_####", frames=8)
    saved = blend.stat().st_mtime_ns
    temp_before = _farm_temp_dirs()
    started = time.perf_counter()
    assert bpy.ops.gavatar.render_distributed(workers=2, wait=True) == {"FINISHED"}
    farm_seconds = time.perf_counter() - started
    out = capsys.readouterr().out
    assert "rendering 8 frames in 2 chunks on 2 workers" in out
    assert "(8 of 8; chunk" in out  # progress: frames done of total, per chunk
    farm = _frames(tmp_path / "farm")
    assert sorted(farm) == list(range(1, 9))

    started = time.perf_counter()
    assert bpy.ops.gavatar.render_sequence(filepath=str(tmp_path / "single" / "f_####")) == {"FINISHED"}
    single_seconds = time.perf_counter() - started
    single = _frames(tmp_path / "single")
    images = [_png(farm[f]) for f in range(1, 9)]
    for frame, image in zip(range(1, 9), images, strict=True):
        assert np.array_equal(image, _png(single[frame])), f"frame {frame} differs from the single render"
        assert image.std() > 10  # the avatar is in view
    assert all(np.abs(a.astype(int) - b).max() > 20 for a, b in itertools.pairwise(images))
    print(f"2 workers: {farm_seconds:.1f} s; in-process render_sequence: {single_seconds:.1f} s (8 frames)")

    # The user's file is untouched and the workers' copy is gone.
    assert bpy.data.filepath == str(blend) and blend.stat().st_mtime_ns == saved
    assert _farm_temp_dirs() == temp_before

    # A re-run renders only what is missing.
    stamps = {f: p.stat().st_mtime_ns for f, p in farm.items()}
    assert bpy.ops.gavatar.render_distributed(workers=2, wait=True) == {"FINISHED"}
    assert {f: p.stat().st_mtime_ns for f, p in farm.items()} == stamps
    farm[3].unlink()
    farm[7].unlink()
    assert bpy.ops.gavatar.render_distributed(workers=2, wait=True) == {"FINISHED"}
    assert "rendering 2 frames in 2 chunks on 2 workers, 6 already on disk" in capsys.readouterr().out
    for frame, path in _frames(tmp_path / "farm").items():
        if frame in (3, 7):
            assert np.array_equal(_png(path), _png(single[frame]))
        else:
            assert path.stat().st_mtime_ns == stamps[frame]


def test_a_failing_chunk_is_retried_once_then_reported(addon: str, clean_scene: None, tmp_path: Path) -> None:
    save_avatar_scene(tmp_path / "shot.blend", tmp_path / "out" / "f_####", frames=8)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "f_0006.png").mkdir()  # frame 6 cannot be written
    temp_before = _farm_temp_dirs()
    with pytest.raises(RuntimeError) as failure:
        bpy.ops.gavatar.render_distributed(workers=2, wait=True)
    message = str(failure.value)
    assert "5 of 8 frames written" in message
    assert "frames 6-8 failed after 2 attempts" in message
    assert "f_0006.png" in message  # Blender's own words about the frame it could not write
    assert sorted(_frames(tmp_path / "out")) == [1, 2, 3, 4, 5]
    # The worker logs are kept (the message names them), the .blend copy is not. Other farm tests
    # may run at the same time in other workers, so only the folder this one names is checked.
    named = re.search(r"worker logs: (\S+)\)", message)
    assert named is not None
    logs = Path(named.group(1))
    assert logs.name in _farm_temp_dirs() - temp_before
    assert not list(logs.glob("*.blend")) and len(list((logs / "logs").glob("chunk001-5-8-try*.log"))) == 2
    shutil.rmtree(logs)
    print("reported:", message)


def test_a_worker_given_a_broken_blend_fails_with_the_reason(addon: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.blend"
    broken.write_bytes(b"BLENDER-v500 this is not a blend file" * 10)

    def command(frames: list[int]) -> list[str]:
        args = commands.WorkerArgs(frames="1-2", output=str(tmp_path / "f_####"))
        return commands.bpy_command(sys.executable, ADDON_MODULE, str(broken), args)

    run = FarmRun([[1, 2]], command, workers=1)
    assert run.wait(timeout=120)
    chunk = run.chunks[0]
    assert chunk.state == FAILED and chunk.attempts == 2
    assert "broken.blend" in chunk.error and "exit status 3" in chunk.error
    print("broken .blend:", chunk.error)


def test_background_render_with_timer_and_cancel(addon: str, clean_scene: None, tmp_path: Path) -> None:
    runtime = addon_module("blender.farm.runtime")
    save_avatar_scene(tmp_path / "shot.blend", tmp_path / "out" / "f_####", frames=8)
    assert bpy.ops.gavatar.render_distributed(workers=2, frame_step=2) == {"FINISHED"}  # returns at once
    [entry] = runtime.active()
    assert [c.frames for c in entry.farm.run.chunks] == [[1, 3], [5, 7]]
    deadline = time.monotonic() + 120
    while runtime.active() and time.monotonic() < deadline:
        runtime._timer()  # what bpy.app.timers calls in a running Blender
        time.sleep(0.1)
    assert entry.farm.run.frames_done == 4 and sorted(_frames(tmp_path / "out")) == [1, 3, 5, 7]

    assert bpy.ops.gavatar.render_distributed(workers=2, overwrite=True) == {"FINISHED"}
    [entry] = runtime.active()
    with pytest.raises(RuntimeError, match="already running"):  # one render per output path at a time
        bpy.ops.gavatar.render_distributed(workers=2, overwrite=True)
    runtime._timer()  # the workers start
    processes = [c.process for c in entry.farm.run.running]
    assert len(processes) == 2
    assert bpy.ops.gavatar.render_distributed_cancel() == {"FINISHED"}
    assert not runtime.active() and entry.farm.run.cancelled
    assert all(p.exit_code() is not None for p in processes)  # the workers are gone
    assert not Path(entry.farm.temp_dir).exists()


def test_bad_requests(addon: str, clean_scene: None, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no camera"):
        bpy.ops.gavatar.render_distributed(frame_start=1, frame_end=2, wait=True)
    save_avatar_scene(tmp_path / "shot.blend", tmp_path / "out" / "clip_", frames=2)
    scene = bpy.context.scene
    if hasattr(scene.render.image_settings, "media_type"):
        scene.render.image_settings.media_type = "VIDEO"
    scene.render.image_settings.file_format = "FFMPEG"
    with pytest.raises(RuntimeError, match="video cannot be split"):
        bpy.ops.gavatar.render_distributed(wait=True)
    if hasattr(scene.render.image_settings, "media_type"):
        scene.render.image_settings.media_type = "IMAGE"
    scene.render.image_settings.file_format = "PNG"
    with pytest.raises(RuntimeError, match="is empty"):
        bpy.ops.gavatar.render_distributed(frame_start=5, frame_end=2, wait=True)


# Runs one Flamenco task's command line the way a render node's Blender would run it, with the
# bpy module standing in for the Blender binary: `{blender} -b -y FILE --python-exit-code N
# --python-expr CODE -- ARGS`. The extension is enabled first, as in a node's installed Blender.
BLENDER_CLI = r"""
import sys, bpy, addon_utils
argv = sys.argv[1:]
addon_utils.enable(ADDON, default_set=True)
exit_code, i = 0, 0
while i < len(argv):
    arg = argv[i]
    if arg == "--":
        break
    if arg in ("-b", "-y"):
        i += 1
    elif arg == "--python-exit-code":
        exit_code, i = int(argv[i + 1]), i + 2
    elif arg == "--python-expr":
        sys.argv = ["blender"] + argv
        try:
            exec(compile(argv[i + 1], "<python-expr>", "exec"), {"__name__": "__main__"})
        except SystemExit:
            raise
        except BaseException:
            import traceback; traceback.print_exc(); sys.exit(exit_code)
        i += 2
    else:
        bpy.ops.wm.open_mainfile(filepath=arg, load_ui=False)
        i += 1
"""


def test_flamenco_job_export_and_task_command(addon: str, clean_scene: None, tmp_path: Path) -> None:
    pytest.importorskip("quickjs")
    from tests.core.test_flamenco_job import compile_job

    save_avatar_scene(tmp_path / "shot.blend", tmp_path / "renders" / "f_####", frames=8)
    jobs = tmp_path / "farm" / "jobs"
    assert bpy.ops.gavatar.export_flamenco_job(directory=str(jobs), chunk_size=3) == {"FINISHED"}
    assert bpy.data.filepath == str(tmp_path / "shot.blend")
    document = json.loads((jobs / "shot.flamenco-job.json").read_text())
    assert document["type"] == "gaussian-avatar-render" and document["name"] == "shot"
    settings = document["settings"]
    assert settings["frames"] == "1-8" and settings["chunk_size"] == 3 and settings["scene"] == "Scene"
    assert settings["render_output_path"] == str(tmp_path / "renders" / "f_####")
    assert Path(settings["blendfile"]).is_file() and Path(settings["blendfile"]).parent == jobs
    assert (jobs / "gaussian_avatar_render.js").read_text() == flamenco.JOB_TYPE_SCRIPT.read_text()

    tasks = compile_job(document)
    assert [t["name"] for t in tasks] == ["render-1-3", "render-4-6", "render-7,8"]
    params = tasks[1]["parameters"]
    argv = ["-b", "-y", *params["argsBefore"], params["blendfile"], *params["args"]]  # {blenderArgs}: -b -y
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", BLENDER_CLI.replace("ADDON", repr(ADDON_MODULE)), *argv],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    progress = [commands.parse_progress(line) for line in done.stdout.splitlines()]
    assert [p["frame"] for p in progress if p and p["event"] == "frame"] == [4, 5, 6]
    assert sorted(_frames(tmp_path / "renders")) == [4, 5, 6]

    # Same pixels as the single-process render of those frames.
    assert bpy.ops.gavatar.render_sequence(filepath=str(tmp_path / "single" / "f_####")) == {"FINISHED"}
    for frame in (4, 5, 6):
        assert np.array_equal(_png(tmp_path / "renders" / f"f_{frame:04d}.png"),
                              _png(tmp_path / "single" / f"f_{frame:04d}.png"))  # fmt: skip

    # A node without the extension says so and fails the task.
    bare = subprocess.run([sys.executable, "-c", "import sys, bpy; exec(sys.argv[1])", commands.BOOT_BLENDER],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bare.returncode != 0 and "extension is not enabled" in bare.stderr
