#!/usr/bin/env bash
# Static typing of the extension (addon/, ops/, blender/, engine/, core/) against fake-bpy-module.
# The repository root is exposed as the package gaussian_avatar, as Blender imports it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stage="$root/build/typecheck"
mkdir -p "$stage"
ln -sfn "$root" "$stage/gaussian_avatar"
cd "$stage"
MYPYPATH="$stage" "$root/.venv/bin/python" -m mypy --config-file "$root/pyproject.toml" \
  -p gaussian_avatar.addon -p gaussian_avatar.ops -p gaussian_avatar.blender -p gaussian_avatar.engine \
  -p gaussian_avatar.core
