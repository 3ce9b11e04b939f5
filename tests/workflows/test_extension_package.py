"""The built extension zip: what it holds, and a full install/enable/disable/uninstall in bpy."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from scripts import extension_build
from tests.fixtures.blender_helpers import run_python


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extension_build.build(tmp_path_factory.mktemp("ext"))


def test_zip_holds_what_the_addon_needs_and_nothing_else(built_zip: Path) -> None:
    names = zipfile.ZipFile(built_zip).namelist()
    assert "blender_manifest.toml" in names
    assert "__init__.py" in names
    for package in ("addon", "ops", "engine", "training"):
        assert f"{package}/__init__.py" in names, package
    forbidden = (".venv/", "tests/", "scripts/", ".ci/", "__pycache__", ".git/", "build/", "out/")
    assert not [n for n in names if n.startswith(forbidden) or "__pycache__" in n or n.endswith(".pyc")]
    assert built_zip.stat().st_size < 1024 * 1024


def test_only_the_allow_listed_entries_are_staged(tmp_path: Path) -> None:
    """A stray folder or file at the root of a working copy (device-run data, a render cache) is
    not part of the extension, whatever the manifest's exclude patterns say."""
    root = tmp_path / "checkout"
    for name in extension_build.PACKAGE_ENTRIES:
        if "." in name:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text("x")
        else:
            (root / name / "__pycache__").mkdir(parents=True)
            (root / name / "module.py").write_text("x = 1")
            (root / name / "__pycache__" / "module.cpython-311.pyc").write_bytes(b"")
    (root / "gpurun" / "data").mkdir(parents=True)
    (root / "gpurun" / "data" / "big.bin").write_bytes(b"0" * 1000)
    (root / "notes.txt").write_text("private")
    staged = extension_build.stage(root, tmp_path / "staging")
    found = sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
    packages = [n for n in extension_build.PACKAGE_ENTRIES if "." not in n]
    files = [n for n in extension_build.PACKAGE_ENTRIES if "." in n]
    assert found == sorted(files + [f"{n}/module.py" for n in packages])


def test_a_checkout_missing_a_package_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="lacks"):
        extension_build.stage(tmp_path, tmp_path / "staging")


INSTALL_SCRIPT = r"""
import json, sys
import bpy, addon_utils
zip_path = sys.argv[1] if len(sys.argv) > 1 else ZIP
out = {}
out["install"] = sorted(bpy.ops.extensions.package_install_files(
    filepath=ZIP, repo="user_default", enable_on_install=True))
mod = "bl_ext.user_default.gaussian_avatar"
out["enabled"] = mod in bpy.context.preferences.addons
out["operators"] = sorted(n for n in dir(bpy.ops.gavatar))
try:
    bpy.context.scene.render.engine = "GAVATAR"
    out["engine"] = bpy.context.scene.render.engine
except TypeError as ex:
    out["engine"] = str(ex)
bpy.context.scene.render.engine = "BLENDER_WORKBENCH"
addon_utils.disable(mod, default_set=True)
out["disabled"] = (mod not in bpy.context.preferences.addons
                   and not hasattr(bpy.types, "GAVATAR_OT_check_setup"))
repo_index = [r.module for r in bpy.context.preferences.extensions.repos].index("user_default")
out["uninstall"] = sorted(bpy.ops.extensions.package_uninstall(
    repo_index=repo_index, pkg_id="gaussian_avatar"))
import os
ext_dir = bpy.utils.user_resource("EXTENSIONS")
out["removed"] = not os.path.exists(os.path.join(ext_dir, "user_default", "gaussian_avatar"))
print("RESULT" + json.dumps(out))
"""


def test_zip_installs_enables_disables_and_uninstalls_cleanly(built_zip: Path, tmp_path: Path) -> None:
    code = INSTALL_SCRIPT.replace("ZIP", repr(str(built_zip)))
    proc = run_python(code, env={"BLENDER_USER_RESOURCES": str(tmp_path / "user")})
    assert proc.returncode == 0, proc.stderr
    result_line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT"))
    result = json.loads(result_line[len("RESULT") :])
    assert result["install"] == ["FINISHED"]
    assert result["enabled"]
    assert "check_setup" in result["operators"]
    assert result["engine"] == "GAVATAR"
    assert result["disabled"]
    assert result["uninstall"] == ["FINISHED"]
    assert result["removed"]
    noise = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if any(word in line.lower() for word in ("error", "warning", "traceback", "exception"))
    ]
    assert not noise, noise
