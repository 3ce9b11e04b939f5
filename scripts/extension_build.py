"""Builds the installable extension zip with Blender's own extension tooling.

Runs the ``blender_ext.py`` command line that ships inside the bpy module (the same code as
``blender --command extension validate|build``) on a staging copy of what the extension is made of
(``PACKAGE_ENTRIES``): an allow-list, so a stray folder in a working copy (a device run's data, a
render cache) never ends up in the zip. The manifest's exclude patterns still apply inside it.

    python -m scripts.extension_build [--out build/]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the installed extension is made of: the add-on's packages (training/ included: the add-on
# launches the trainer from the extension folder), its entry point and manifest, the README.
PACKAGE_ENTRIES = (
    "__init__.py", "blender_manifest.toml", "README.md",
    "addon", "blender", "core", "engine", "ops", "training",
)  # fmt: skip


def blender_ext_cli() -> Path:
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("extension_build: the bpy module is not installed (run scripts/setup_env.sh)")
    bpy_dir = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(bpy_dir.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        raise SystemExit(f"extension_build: blender_ext.py not found under {bpy_dir}")
    return found[-1]


def manifest() -> dict:
    with open(ROOT / "blender_manifest.toml", "rb") as f:
        return tomllib.load(f)


def zip_path(out_dir: Path) -> Path:
    m = manifest()
    return out_dir / f"{m['id']}-{m['version']}.zip"


def stage(root: Path, staging: Path) -> Path:
    """Copy the allow-listed entries of ``root`` (without caches) into ``staging``; returns it."""
    missing = [name for name in PACKAGE_ENTRIES if not (root / name).exists()]
    if missing:
        raise SystemExit(f"extension_build: {root} lacks {', '.join(missing)}")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    staging.mkdir(parents=True, exist_ok=True)
    for name in PACKAGE_ENTRIES:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, staging / name, ignore=ignore)
        else:
            shutil.copy2(source, staging / name)
    return staging


def _run(args: list[str], cwd: Path = ROOT) -> None:
    proc = subprocess.run(
        [sys.executable, str(blender_ext_cli()), *args], cwd=cwd, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"extension_build: {' '.join(args[:1])} failed:\n{proc.stdout}{proc.stderr}")


def build(out_dir: Path = ROOT / "build") -> Path:
    """Validates the manifest and writes the zip; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = zip_path(out_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="gavatar_ext_") as folder:
        staging = stage(ROOT, Path(folder))
        _run(["build", "--source-dir", str(staging), "--output-filepath", str(target)], cwd=staging)
    _run(["validate", str(target)])
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    args = parser.parse_args()
    target = build(args.out)
    print(f"{target} ({target.stat().st_size / 1024:.1f} KiB)")


if __name__ == "__main__":
    main()
