"""Test set-up: real Blender (the bpy module) with an isolated user folder per test process.

Importing bpy reads BLENDER_USER_RESOURCES once, so it is set here, before any test imports bpy:
tests never touch the developer's own Blender configuration or extensions.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_user_resources = tempfile.mkdtemp(prefix="gavatar-blender-user-")
os.environ["BLENDER_USER_RESOURCES"] = _user_resources
os.environ.setdefault("XDG_CONFIG_HOME", os.path.join(_user_resources, "xdg-config"))

from tests.fixtures.blender_helpers import ADDON_MODULE, enable_addon_from_source  # noqa: E402

# Shared fixtures: the free stand-in rigs (built once into the cache when missing).
pytest_plugins = ["tests.fixtures.standin"]


@pytest.fixture(scope="session")
def addon() -> Iterator[str]:
    """The extension, enabled in this process's bpy from the working tree (symlinked)."""
    enable_addon_from_source()
    yield ADDON_MODULE


@pytest.fixture
def clean_scene(addon: str) -> Iterator[None]:
    """An empty scene with the add-on enabled; Blender data is reset afterwards."""
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    yield
    bpy.ops.wm.read_homefile(use_empty=True)
