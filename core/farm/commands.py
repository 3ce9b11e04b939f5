"""The command line of one worker chunk, and the lines a worker prints about its progress.

A worker is the extension's ``blender/farm/worker.py`` running inside a background Blender
on a copy of the .blend. Two launchers reach it:

- ``blender -b FILE --python-expr BOOT -- ARGS``: a Blender binary (the local one, or a render farm
  node through Flamenco's ``blender-render`` command). BOOT finds the enabled Gaussian Avatar
  extension, whatever repository it was installed into, and runs the worker.
- ``PYTHON -c BOOT -- --blend FILE ARGS``: the ``bpy`` module in a plain Python (scripts, tests,
  the bpy-module builds that have no Blender binary). BOOT enables the extension by its module
  name first, as a fresh bpy has no add-ons on.

Either way the worker reads ARGS after ``--``: the frames (``1-8,10``), the output path (the
scene's output path, made absolute on the submitting machine), the engine and the scene.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

EXTENSION_ID = "gaussian_avatar"
WORKER_MODULE = "blender.farm.worker"
PROGRESS_PREFIX = "GAVATAR_FARM "
# Exit status of a worker that stopped with a clear message (bad input, a frame not written).
WORKER_ERROR_EXIT = 3
# Blender's exit status when the --python-expr raised (Blender otherwise exits 0 after an error).
PYTHON_ERROR_EXIT = 2

BOOT_BLENDER = (
    "import sys, importlib, bpy; "
    f"m = [n for n in bpy.context.preferences.addons.keys() if n.rpartition('.')[2] == '{EXTENSION_ID}']; "
    f"m or sys.exit('Gaussian Avatar farm worker: the {EXTENSION_ID} extension is not enabled in this "
    "Blender (install and enable it on every render node)'); "
    f"importlib.import_module(m[0] + '.{WORKER_MODULE}').main()"
)


def boot_bpy(addon_module: str) -> str:
    """The -c code for a plain Python with the bpy module: enable the extension, run the worker."""
    return (
        "import sys, importlib, bpy, addon_utils; "
        f"m = {addon_module!r}; "
        "(m in bpy.context.preferences.addons or addon_utils.enable(m, default_set=False)) "
        "or sys.exit('Gaussian Avatar farm worker: cannot enable ' + m); "
        f"importlib.import_module(m + '.{WORKER_MODULE}').main()"
    )


@dataclass
class WorkerArgs:
    frames: str  # '1-8,10'
    output: str  # absolute output path pattern ('#' for the frame number)
    engine: str = "GAVATAR"
    scene: str = ""
    overwrite: bool = False

    def argv(self) -> list[str]:
        out = ["--frames", self.frames, "--output", self.output]
        if self.engine:
            out += ["--engine", self.engine]
        if self.scene:
            out += ["--scene", self.scene]
        if self.overwrite:
            out.append("--overwrite")
        return out


def blender_args(args: WorkerArgs) -> list[str]:
    """What follows the .blend on a Blender command line (Flamenco's ``args``)."""
    return ["--python-exit-code", str(PYTHON_ERROR_EXIT), "--python-expr", BOOT_BLENDER, "--", *args.argv()]


def blender_command(blender: str, blendfile: str, args: WorkerArgs) -> list[str]:
    # -y: run the file's drivers (avatar rigs use Python drivers); --factory-startup is not used,
    # since the worker needs the user's installed extension.
    return [blender, "-b", "-y", blendfile, *blender_args(args)]


def bpy_command(python: str, addon_module: str, blendfile: str, args: WorkerArgs) -> list[str]:
    return [python, "-c", boot_bpy(addon_module), "--", "--blend", blendfile, *args.argv()]


def progress_line(event: str, **fields: Any) -> str:
    return PROGRESS_PREFIX + json.dumps({"event": event, **fields})


def parse_progress(line: str) -> dict[str, Any] | None:
    """A worker's progress line as a dict; None for Blender's own output."""
    if not line.startswith(PROGRESS_PREFIX):
        return None
    try:
        value = json.loads(line[len(PROGRESS_PREFIX) :])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
