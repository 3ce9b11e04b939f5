"""Helpers for tests that drive the real bpy module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADDON_ID = "gaussian_avatar"
ADDON_MODULE = f"bl_ext.user_default.{ADDON_ID}"


def enable_addon_from_source() -> None:
    """Links the working tree into the user extension repository and enables it."""
    import addon_utils
    import bpy

    if ADDON_MODULE in bpy.context.preferences.addons:
        return
    repo_dir = Path(bpy.utils.user_resource("EXTENSIONS", path="user_default", create=True))
    link = repo_dir / ADDON_ID
    if not link.exists():
        os.symlink(ROOT, link)
    errors: list[BaseException] = []
    addon_utils.enable(ADDON_MODULE, default_set=True, handle_error=errors.append)
    if errors:
        raise errors[0]


def run_python(
    code: str, *, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Runs code in a fresh Python process (its own bpy), from the repository root."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def engine_ids() -> set[str]:
    import bpy

    items = bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items
    return {item.identifier for item in items}
