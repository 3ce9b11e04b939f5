"""The fuzz harness itself: it must see a hang, a traceback, a silent cancel, leftovers and NaN in
the scene, or the figures of tests/fuzz would prove nothing."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.fuzz.harness import run_case
from tests.fuzz.harness_time import CaseTimeout, time_bound


def test_time_bound_interrupts_a_blocking_open(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(CaseTimeout), time_bound(0.5):
        open(fifo, "rb").close()  # blocks until a writer comes: none will


def _leaves_a_mesh_and_refuses() -> None:
    bpy.data.meshes.new("left behind")
    raise RuntimeError("Error: 'x.npz' is damaged.")


def _keys_nan() -> set[str]:
    obj = bpy.data.objects.new("nan", None)
    bpy.context.scene.collection.objects.link(obj)
    obj.location = (0.0, 0.0, 0.0)
    obj.keyframe_insert("location", frame=1)
    action = obj.animation_data.action
    fcurves = [
        fc
        for layer in action.layers
        for strip in layer.strips
        for bag in strip.channelbags
        for fc in bag.fcurves
    ]
    fcurves[0].keyframe_points[0].co = (1.0, float("nan"))
    return {"FINISHED"}


def _raises() -> None:
    raise ValueError("cannot reshape array of size 0 into shape (3,)")


def _past_the_peak(mib: int) -> int:
    """Bytes to allocate so the process's peak memory rises by ``mib`` MiB (the peak may lie above
    what the process holds now)."""
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    now_kib = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return (max(peak_kib - now_kib, 0) + mib * 1024) * 1024


def test_the_judge_sees_every_kind_of_failure(clean_scene: None) -> None:
    assert run_case("left", _leaves_a_mesh_and_refuses, ("x.npz",)).problems[0].startswith("leftovers")
    assert run_case("nan", _keys_nan).problems[0].startswith("non-finite")
    assert run_case("raised", _raises).problems == ["traceback"]
    assert run_case("silent", lambda: {"CANCELLED"}).problems == ["cancelled without a sentence"]
    named = run_case("other file", lambda: (_ for _ in ()).throw(RuntimeError("Error: bad.")), ("x.npz",))
    assert named.problems == ["names no file"]
    assert run_case("hang", lambda: __import__("time").sleep(5), seconds=0.3).problems == ["hang"]
    assert run_case("fine", lambda: {"FINISHED"}).ok
    bomb = run_case("bomb", lambda: {"FINISHED"} if np.ones(_past_the_peak(1100) // 8).sum() else set())
    assert bomb.problems and bomb.problems[0].startswith("memory")
    assert len(bpy.data.meshes) == 0 and len(bpy.data.objects) == 0  # every case was cleaned up
