"""Which model file a new rig is built from: the given path, the preference, or the free stand-in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...core.rig import loaders, standins
from ...core.rig.model import RigModel

# File names of the official releases, per family and gender, tried when a folder is given.
_RELEASE_NAMES: dict[str, tuple[str, ...]] = {
    "FLAME": ("flame2023.pkl", "generic_model.pkl", "FLAME2020/generic_model.pkl"),
    "SMPLX": (
        "SMPLX_{GENDER}.npz",
        "SMPLX_{GENDER}.pkl",
        "smplx/SMPLX_{GENDER}.npz",
        "smplx/SMPLX_{GENDER}.pkl",
    ),
}


@dataclass(frozen=True)
class ModelFiles:
    """The user's model-file settings (the add-on preferences, absolute paths; empty: not set),
    handed down by the shell so nothing below it reads the preferences itself."""

    flame: str = ""
    smplx: str = ""
    cache_dir: str = ""

    def preference(self, family: str) -> str:
        return self.flame if family == "FLAME" else self.smplx


class ModelSourceError(ValueError):
    """No usable model file: one sentence saying what to do."""


def standin_path(family: str, cache_dir: str = "") -> Path | None:
    """The free stand-in file for family, when it has been built."""
    path = standins.standin_path(family, cache_dir or None)
    return path if path.is_file() else None


def _in_folder(folder: Path, family: str, gender: str) -> Path:
    for pattern in _RELEASE_NAMES[family]:
        candidate = folder / pattern.replace("{GENDER}", gender.upper())
        if candidate.is_file():
            return candidate
    wanted = ", ".join(p.replace("{GENDER}", gender.upper()) for p in _RELEASE_NAMES[family])
    raise ModelSourceError(f"Folder '{folder}' holds no {family} model file (looked for {wanted}).")


def resolve_model_path(
    family: str, model_path: str, preference: str, gender: str, cache_dir: str = ""
) -> Path:
    """The file to load: model_path, else the preference, else the stand-in; a folder picks by gender."""
    chosen = model_path or preference
    if not chosen:
        found = standin_path(family, cache_dir)
        if found is None:
            command = " ".join(standins.build_command("<trainer python>", cache_dir or None))
            raise ModelSourceError(
                f"No {family} model file is given or set in the preferences, and the free {family} "
                f"stand-in has not been built yet (build it with: {command})."
            )
        return found
    path = Path(chosen).expanduser()
    if path.is_dir():
        return _in_folder(path, family, gender)
    if not path.exists():
        raise ModelSourceError(f"{family} model file '{path}' does not exist.")
    return path


def load(family: str, path: Path) -> RigModel:
    """Loads path as family; raises loaders' ModelFileError (one sentence naming the file)."""
    return loaders.load_model(path, family=family)
