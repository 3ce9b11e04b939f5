"""The bpy-free half of distributed rendering: frame lists, chunks, frames already on disk, worker
command lines and the local worker pool (core/farm/), with real subprocesses."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.farm import commands
from core.farm.frames import (
    FrameSpecError,
    arithmetic_runs,
    auto_chunk_size,
    format_frames,
    frame_list,
    parse_frames,
    split_chunks,
)
from core.farm.plan import is_rendered, plan_render
from core.farm.runner import DONE, FAILED, FarmRun, failure_reason


def test_frame_lists_read_and_write_like_flamenco() -> None:
    assert parse_frames("1-3, 5,7..9") == [1, 2, 3, 5, 7, 8, 9]
    assert parse_frames("3,1,2,2") == [1, 2, 3]
    assert parse_frames("-5..-3") == [-5, -4, -3]
    assert format_frames([1, 2, 3, 5, 6, 9]) == "1-3,5,6,9"  # pairs stay apart, as Flamenco writes them
    assert format_frames([4]) == "4"
    for frames in ([1, 2, 3, 4], [1, 11, 21], [2, 3, 7, 8, 9, 10, 40]):
        assert parse_frames(format_frames(frames)) == frames
    for bad in ("", "a", "5-2", "1-2-3"):
        with pytest.raises(FrameSpecError):
            parse_frames(bad)
    assert frame_list(1, 71, 10) == [1, 11, 21, 31, 41, 51, 61, 71]
    with pytest.raises(FrameSpecError, match="empty"):
        frame_list(5, 2)


def test_chunks_cover_every_frame_once() -> None:
    frames = frame_list(1, 100, 3)
    for workers in (1, 2, 3, 7):
        size = auto_chunk_size(len(frames), workers)
        chunks = split_chunks(frames, size)
        assert len(chunks) <= workers
        assert [f for c in chunks for f in c] == frames
    assert arithmetic_runs([1, 11, 21, 25, 26]) == [(1, 21, 10), (25, 26, 1)]
    assert arithmetic_runs([5]) == [(5, 5, 1)]
    runs = arithmetic_runs([1, 2, 4, 8, 9, 10, 30])
    assert sorted(f for s, e, k in runs for f in range(s, e + 1, k)) == [1, 2, 4, 8, 9, 10, 30]


def test_plan_skips_frames_on_disk_unless_overwriting(tmp_path: Path) -> None:
    paths = {f: str(tmp_path / f"f_{f:04d}.png") for f in range(1, 9)}
    Path(paths[2]).write_bytes(b"png")
    Path(paths[5]).write_bytes(b"")  # an empty placeholder is not a rendered frame
    (tmp_path / "f_0006.png").mkdir()  # nor is a folder in the way
    plan = plan_render(list(paths), paths, workers=2)
    assert plan.skipped == [2]
    assert plan.chunks == [[1, 3, 4, 5], [6, 7, 8]]
    assert plan.to_render == 7
    plan = plan_render(list(paths), paths, workers=2, chunk_size=3, overwrite=True)
    assert plan.skipped == [] and plan.chunks == [[1, 2, 3], [4, 5, 6], [7, 8]]
    for f in paths:
        if f != 6:
            Path(paths[f]).write_bytes(b"x")
    plan = plan_render(list(paths), paths, workers=2)
    assert plan.chunks == [[6]] and plan.skipped == [1, 2, 3, 4, 5, 7, 8]
    assert not is_rendered(tmp_path / "f_0006.png")


def test_worker_command_lines() -> None:
    args = commands.WorkerArgs(frames="1-4", output="/out/f_####", scene="Scene", overwrite=True)
    blender = commands.blender_command("/opt/blender/blender", "/tmp/x.blend", args)
    assert blender[:4] == ["/opt/blender/blender", "-b", "-y", "/tmp/x.blend"]
    assert blender[4:8] == ["--python-exit-code", "2", "--python-expr", commands.BOOT_BLENDER]
    tail = blender[blender.index("--") + 1 :]
    assert tail == ["--frames", "1-4", "--output", "/out/f_####", "--engine", "GAVATAR", "--scene", "Scene",
                    "--overwrite"]  # fmt: skip
    python = commands.bpy_command("/venv/python", "bl_ext.user_default.gaussian_avatar", "/tmp/x.blend", args)
    assert python[:2] == ["/venv/python", "-c"] and python[3:6] == ["--", "--blend", "/tmp/x.blend"]
    assert python[6:] == tail
    compile(commands.BOOT_BLENDER, "<boot>", "exec")
    compile(python[2], "<boot>", "exec")
    line = commands.progress_line("frame", frame=3, file="/out/f_0003.png")
    assert commands.parse_progress(line) == {"event": "frame", "frame": 3, "file": "/out/f_0003.png"}
    assert commands.parse_progress("Fra:3 Mem:12M | Rendering") is None


def test_failure_reason_picks_the_worker_s_own_words() -> None:
    tail = ["Fra:5 Mem:10M", "Traceback (most recent call last):", '  File "x", line 1',
            "RuntimeError: Error: Cannot read file '/tmp/broken.blend': not a blend file", ""]  # fmt: skip
    assert failure_reason(tail, 3) == (
        "RuntimeError: Error: Cannot read file '/tmp/broken.blend': not a blend file (exit status 3)"
    )
    assert failure_reason(["just a line"], None) == "just a line"
    assert failure_reason([], 1) == "no output (exit status 1)"


# A stand-in worker for the pool's own logic (the real worker is tested in test_render_farm.py):
# it prints progress lines for its frames, fails on a frame listed in FAIL, and writes files.
FAKE_WORKER = r"""
import json, os, sys
frames, out, fail = sys.argv[1], sys.argv[2], sys.argv[3]
from core.farm.frames import parse_frames
marker = os.path.join(out, "attempts")
for f in parse_frames(frames):
    if str(f) in fail.split(","):
        with open(marker, "a") as m:
            m.write(f"{f}\n")
        print("Fra:%d" % f, flush=True)
        print(f"ValueError: frame {f} cannot be drawn", file=sys.stderr, flush=True)
        sys.exit(3)
    path = os.path.join(out, f"f_{f:04d}.png")
    with open(path, "w") as fh:
        fh.write("x")
    print("GAVATAR_FARM " + json.dumps({"event": "frame", "frame": f, "file": path}), flush=True)
"""


def _pool(tmp_path: Path, frames: list[int], fail: str, workers: int = 2) -> FarmRun:
    root = Path(__file__).resolve().parents[2]
    paths = {f: str(tmp_path / f"f_{f:04d}.png") for f in frames}

    def command(chunk: list[int]) -> list[str]:
        return [sys.executable, "-c", FAKE_WORKER, format_frames(chunk), str(tmp_path), fail]

    plan = plan_render(frames, paths, workers=workers)
    return FarmRun(plan.chunks, command, workers=workers, cwd=str(root), log_dir=tmp_path / "logs",
                   frame_paths=paths)  # fmt: skip


def test_pool_retries_a_failed_chunk_once_from_where_it_stopped(tmp_path: Path) -> None:
    run = _pool(tmp_path, list(range(1, 9)), fail="6")
    events = []
    assert run.wait(poll=0.02, on_event=events.append, timeout=60)
    assert [c.state for c in run.chunks] == [DONE, FAILED]
    failed = run.chunks[1]
    assert failed.attempts == 2 and failed.done == [5] and failed.remaining == [6, 7, 8]
    assert failed.error == "ValueError: frame 6 cannot be drawn (exit status 3)"
    assert run.failure_report() == (
        "frames 6-8 failed after 2 attempts: ValueError: frame 6 cannot be drawn (exit status 3)"
    )
    assert (tmp_path / "attempts").read_text() == "6\n6\n"  # retried once, then given up
    kinds = [e.kind for e in events]
    assert kinds.count("retry") == 1 and kinds.count("failed") == 1 and kinds.count("frame") == 5
    assert run.frames_done == 5 and "1 chunk(s) failed" in run.status_line()
    assert Path(failed.log_path).read_text().count("ValueError: frame 6") == 1  # one log per attempt


def test_pool_succeeds_and_cancel_stops_workers(tmp_path: Path) -> None:
    run = _pool(tmp_path, [1, 2, 3, 4, 5], fail="")
    assert run.wait(poll=0.02, timeout=60)
    assert all(c.state == DONE for c in run.chunks) and run.frames_done == 5 and not run.failed

    slow = [sys.executable, "-c", "import time; time.sleep(60)"]
    run = FarmRun([[1, 2], [3, 4], [5]], lambda _frames: slow, workers=2)
    run.tick()
    processes = [c.process for c in run.running]
    assert len(processes) == 2
    run.cancel(grace=2.0)
    assert all(p is not None and p.exit_code() is not None for p in processes)
    assert run.finished and run.cancelled and [c.state for c in run.chunks] == ["CANCELLED"] * 3


def test_pool_reports_a_worker_that_cannot_start(tmp_path: Path) -> None:
    run = FarmRun([[1]], lambda _frames: [str(tmp_path / "no-such-blender")], workers=1)
    assert run.wait(poll=0.01, timeout=10)
    assert run.chunks[0].state == FAILED and run.chunks[0].attempts == 2
    assert "cannot start" in run.chunks[0].error
