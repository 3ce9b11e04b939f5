"""The same split as a Flamenco 3 job: the job document the Manager's API takes
(``POST /api/v3/jobs``, a ``SubmittedJob``), and the job type that compiles it into tasks.

The job type is ``gaussian_avatar_render.js`` beside this file: the Manager loads custom job
types from the ``scripts/`` folder next to its executable. It cuts the frames with Flamenco's own
``frameChunker`` and gives each chunk one ``blender-render`` command: ``{blender} {blenderArgs}
FILE --python-exit-code 2 --python-expr BOOT -- --frames CHUNK --output PATH --engine GAVATAR
[--scene NAME] [--overwrite]``, the worker command a local distributed render runs
(commands.blender_args). ``flamenco_tasks`` here is its Python twin, for tests and the summary.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .commands import WorkerArgs, blender_args
from .frames import FrameSpecError, format_frames, parse_frames, split_chunks

JOB_TYPE = "gaussian-avatar-render"
JOB_TYPE_SCRIPT = Path(__file__).with_name("gaussian_avatar_render.js")


@dataclass
class FlamencoJob:
    name: str
    blendfile: str  # as the render nodes see it (shared storage)
    frames: list[int]
    output: str  # absolute output path pattern, '#' for the frame number
    chunk_size: int = 8
    scene: str = ""
    engine: str = "GAVATAR"
    overwrite: bool = False
    priority: int = 50
    metadata: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        if not self.frames:
            raise FrameSpecError("No frames to render.")
        if min(self.frames) < 0:
            raise FrameSpecError("Flamenco frame ranges cannot hold negative frames.")
        if self.chunk_size < 1:
            raise FrameSpecError("The chunk size must be at least 1.")
        if self.output.startswith("//") or not os.path.isabs(self.output):  # '//': Blender's relative
            raise ValueError(f"The output path '{self.output}' must be absolute for a render farm.")
        if self.blendfile.startswith("//") or not os.path.isabs(self.blendfile):
            raise ValueError(f"The .blend path '{self.blendfile}' must be absolute for a render farm.")


def submitter_platform() -> str:
    """Go's GOOS name of this machine, which Flamenco uses to translate two-way path variables."""
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform.startswith("linux"):
        return "linux"
    return sys.platform  # darwin, freebsd, openbsd: the same names as Go's


def job_document(job: FlamencoJob) -> dict[str, Any]:
    """The SubmittedJob JSON for the Manager's API."""
    job.check()
    return {
        "name": job.name,
        "type": JOB_TYPE,
        "priority": job.priority,
        "submitter_platform": submitter_platform(),
        "settings": {
            "blendfile": job.blendfile,
            "frames": format_frames(job.frames),
            "chunk_size": job.chunk_size,
            "render_output_path": job.output,
            "scene": job.scene,
            "engine": job.engine,
            "overwrite": job.overwrite,
        },
        "metadata": dict(job.metadata),
    }


def flamenco_chunks(frames: list[int], chunk_size: int) -> list[str]:
    """Flamenco's frameChunker on these frames: sorted, unique, cut every chunk_size frames."""
    return [format_frames(chunk) for chunk in split_chunks(sorted(set(frames)), chunk_size)]


def flamenco_tasks(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The tasks the job type compiles from a job document: name and blender-render parameters."""
    settings = document["settings"]
    tasks = []
    for chunk in flamenco_chunks(parse_frames(settings["frames"]), int(settings["chunk_size"])):
        args = WorkerArgs(
            frames=chunk,
            output=settings["render_output_path"],
            engine=settings.get("engine", ""),
            scene=settings.get("scene", ""),
            overwrite=bool(settings.get("overwrite", False)),
        )
        tasks.append(
            {
                "name": f"render-{chunk}",
                "type": "blender",
                "command": "blender-render",
                "parameters": {
                    "exe": "{blender}",
                    "exeArgs": "{blenderArgs}",
                    "argsBefore": [],
                    "blendfile": settings["blendfile"],
                    "args": blender_args(args),
                },
            }
        )
    return tasks


def write_json(path: str | os.PathLike[str], value: Any) -> None:
    """Writes through a temp file and a rename: never a half-written file at path."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".job-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=2)
            f.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def install_job_type(folder: str | os.PathLike[str]) -> Path:
    """Copies the job type script into folder (for the Manager's scripts/ folder)."""
    target = Path(folder) / JOB_TYPE_SCRIPT.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(JOB_TYPE_SCRIPT, target)
    return target
