"""Builds the installable extension zip with Blender's own extension tooling.

Runs the ``blender_ext.py`` command line that ships inside the bpy module (the same code as
``blender --command extension validate|build``) on the repository root.

    python -m scripts.extension_build [--out build/]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


def _run(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, str(blender_ext_cli()), *args], cwd=ROOT, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"extension_build: {' '.join(args[:1])} failed:\n{proc.stdout}{proc.stderr}")


def build(out_dir: Path = ROOT / "build") -> Path:
    """Validates the manifest and writes the zip; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = zip_path(out_dir)
    _run(["build", "--source-dir", str(ROOT), "--output-filepath", str(target)])
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
