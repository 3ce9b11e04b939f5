"""One fuzz case through a real ``bpy.ops`` call: a time bound, the outcome, the report's text,
what it left in bpy.data and whether what it made is finite.

A case passes when the operator either FINISHED and everything in the scene is finite (in float32
terms, as Blender stores it), or CANCELLED with one sentence (no traceback, no Python exception's
text) and left bpy.data exactly as it found it, within a time bound and without raising the
process's peak memory by a gigabyte. Each case is cleaned up afterwards, so the next one starts from
the same scene.
"""

from __future__ import annotations

import re
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy
import numpy as np

from tests.fuzz.harness_time import CaseTimeout, time_bound

# Kinds of data an importer may make; compared before and after every case.
COLLECTIONS = (
    "objects",
    "meshes",
    "armatures",
    "actions",
    "cameras",
    "images",
    "materials",
    "collections",
    "node_groups",
    "shape_keys",
)
TRACEBACK_TEXT = re.compile(
    r"Traceback|File \"|\b[A-Z]\w*(Error|Exception|Warning)\b:|\bzlib\.error\b|<class "
)
LAST_DEFENCE = "stopped on an unexpected problem"  # ops/last_defence.py: a bug we did not foresee
SETTING_TEXT = ("The strength",)  # refusals of an operator setting name no file
MEMORY_BOUND_MIB = 1024  # no case may raise the process's peak memory by more (a 1 GiB bomb would)
CASE_SECONDS = 30.0  # far above any case's time on a loaded 2-core machine; a hang meets it


@dataclass
class Outcome:
    label: str
    result: str  # FINISHED, CANCELLED, CANCELLED-SILENT, HANG, RAISED
    message: str = ""
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def snapshot() -> dict[str, set[str]]:
    return {kind: {block.name for block in getattr(bpy.data, kind)} for kind in COLLECTIONS}


def new_blocks(before: dict[str, set[str]]) -> dict[str, list[str]]:
    now = snapshot()
    return {kind: sorted(now[kind] - before[kind]) for kind in COLLECTIONS if now[kind] - before[kind]}


def remove_new(before: dict[str, set[str]]) -> None:
    """Put bpy.data back to ``before`` (objects first: they hold the data)."""
    for kind in ("objects", *[k for k in COLLECTIONS if k not in ("objects", "shape_keys")]):
        blocks = getattr(bpy.data, kind)
        for name in sorted({b.name for b in blocks} - before[kind]):
            block = blocks.get(name)
            if block is not None:
                blocks.remove(block)
    bpy.data.orphans_purge(do_recursive=True)


def _finite32(values: np.ndarray) -> bool:
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(values.astype(np.float32)).all())


def _fcurves(action: Any) -> Iterator[Any]:
    if hasattr(action, "layers"):
        for layer in action.layers:
            for strip in layer.strips:
                for bag in getattr(strip, "channelbags", ()):
                    yield from bag.fcurves
    if getattr(action, "is_action_legacy", False) or not hasattr(action, "layers"):
        yield from getattr(action, "fcurves", ())


def nonfinite_data() -> list[str]:
    """Names of datablocks holding NaN or inf (float32): keys, vertices, attributes, objects, cameras."""
    bad = []
    for action in bpy.data.actions:
        for fcurve in _fcurves(action):
            points = fcurve.keyframe_points
            co = np.empty(2 * len(points), dtype=np.float32)
            points.foreach_get("co", co)
            if not _finite32(co):
                bad.append(f"action {action.name} {fcurve.data_path}")
                break
    for mesh in bpy.data.meshes:
        co = np.empty(3 * len(mesh.vertices), dtype=np.float32)
        mesh.vertices.foreach_get("co", co)
        if not _finite32(co):
            bad.append(f"mesh {mesh.name} vertices")
        for attribute in mesh.attributes:
            if attribute.data_type not in ("FLOAT", "FLOAT_VECTOR", "FLOAT2", "QUATERNION", "FLOAT_COLOR"):
                continue
            width = {"FLOAT": 1, "FLOAT2": 2, "FLOAT_VECTOR": 3, "QUATERNION": 4, "FLOAT_COLOR": 4}[
                attribute.data_type
            ]
            values = np.empty(width * len(attribute.data), dtype=np.float32)
            key = {"FLOAT_COLOR": "color", "FLOAT_VECTOR": "vector", "FLOAT2": "vector"}.get(
                attribute.data_type, "value"
            )
            attribute.data.foreach_get(key, values)
            if not _finite32(values):
                bad.append(f"mesh {mesh.name} attribute {attribute.name}")
        if mesh.shape_keys is not None:
            for block in mesh.shape_keys.key_blocks:
                co = np.empty(3 * len(block.data), dtype=np.float32)
                block.data.foreach_get("co", co)
                if not _finite32(co) or not np.isfinite(block.value):
                    bad.append(f"mesh {mesh.name} shape key {block.name}")
    for obj in bpy.data.objects:
        matrix = np.array(obj.matrix_world, dtype=np.float64)
        if not _finite32(matrix):
            bad.append(f"object {obj.name} transform")
    for camera in bpy.data.cameras:
        if not _finite32(np.array([camera.lens, camera.shift_x, camera.shift_y, camera.sensor_width])):
            bad.append(f"camera {camera.name}")
    return bad


def run_case(
    label: str, call: Callable[[], Any], names: tuple[str, ...] = (), seconds: float = CASE_SECONDS
) -> Outcome:
    """Run one operator call and judge it; bpy.data is put back afterwards. A refusal must name
    one of ``names`` (the input's file or folder names) unless it is about an operator setting."""
    before = snapshot()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    outcome = Outcome(label, "RAISED")
    try:
        with time_bound(seconds):
            result = call()
        outcome.result = "FINISHED" if "FINISHED" in result else "CANCELLED-SILENT"
    except CaseTimeout:
        outcome.result = "HANG"
    except RuntimeError as exc:  # an ERROR report: bpy.ops raises it with the report's text
        outcome.result = "CANCELLED"
        outcome.message = str(exc)
    except Exception as exc:
        outcome.message = f"{type(exc).__name__}: {exc}"
    outcome.seconds = time.perf_counter() - started
    judge(outcome, before, names)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    if grown_mib > MEMORY_BOUND_MIB:  # the process's peak rose: a bomb was inflated
        outcome.problems.append(f"memory: peak grew {grown_mib:.0f} MiB")
    remove_new(before)
    return outcome


def judge(outcome: Outcome, before: dict[str, set[str]], names: tuple[str, ...] = ()) -> None:
    if outcome.result == "HANG":
        outcome.problems.append("hang")
        return
    if outcome.result in ("RAISED", "CANCELLED-SILENT"):
        outcome.problems.append("traceback" if outcome.result == "RAISED" else "cancelled without a sentence")
        return
    if outcome.result == "CANCELLED":
        text = outcome.message.removeprefix("Error: ").strip()
        if TRACEBACK_TEXT.search(text) or not text:
            outcome.problems.append("traceback")
        elif len(text) > 700 or "\n" in text.strip():
            outcome.problems.append("not one sentence")
        elif LAST_DEFENCE in text:
            outcome.problems.append("last line of defence")
        elif names and not any(name in text for name in names) and not text.startswith(SETTING_TEXT):
            outcome.problems.append("names no file")
        left = new_blocks(before)
        if left:
            outcome.problems.append(f"leftovers {left}")
        return
    bad = nonfinite_data()
    if bad:
        outcome.problems.append(f"non-finite {bad[:3]}")


def input_names(path: Path) -> tuple[str, ...]:
    """Names a refusal may use for its input: the file or folder, and what lies inside a folder."""
    from core.untrusted.errors import display_name

    names = {display_name(path), path.name}
    if path.is_dir() and not path.is_symlink():
        names |= {p.name for p in path.rglob("*")}
    return tuple(n for n in names if n)


@dataclass
class Figures:
    """Per-importer totals of a run."""

    importer: str
    cases: int = 0
    finished: int = 0
    cancelled: int = 0
    tracebacks: int = 0
    hangs: int = 0
    nonfinite: int = 0
    leftovers: int = 0
    other: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.cases += 1
        self.seconds += outcome.seconds
        self.finished += outcome.result == "FINISHED"
        self.cancelled += outcome.result == "CANCELLED"
        for problem in outcome.problems:
            if problem == "traceback":
                self.tracebacks += 1
            elif problem == "hang":
                self.hangs += 1
            elif problem.startswith("non-finite"):
                self.nonfinite += 1
            elif problem.startswith("leftovers"):
                self.leftovers += 1
            else:
                self.other += 1
        if outcome.problems:
            self.failures.append(f"{outcome.label}: {'; '.join(outcome.problems)} [{outcome.message[:300]}]")

    def line(self) -> str:
        return (
            f"{self.importer:24s} cases {self.cases:4d}  finished {self.finished:4d}  "
            f"cancelled {self.cancelled:4d}  "
            f"tracebacks {self.tracebacks}  hangs {self.hangs}  non-finite {self.nonfinite}  "
            f"leftovers {self.leftovers}  other {self.other}  ({self.seconds:.1f} s)"
        )
