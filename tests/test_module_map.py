"""docs/MODULES.md is the map of the tree: every source folder is on it, and README points to it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_TOPS = ("core", "engine", "blender", "addon", "ops", "training")


def test_every_source_folder_is_on_the_map() -> None:
    text = (ROOT / "docs" / "MODULES.md").read_text()
    folders = sorted(
        {p.parent.relative_to(ROOT).as_posix() for top in SOURCE_TOPS for p in (ROOT / top).rglob("*.py")}
    )
    missing = [f for f in folders if "__pycache__" not in f and f"`{f}/`" not in text]
    assert not missing, f"docs/MODULES.md does not name: {missing}"


def test_readme_layout_is_the_map() -> None:
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    assert "docs/MODULES.md" in layout
    for top in SOURCE_TOPS:
        assert f"`{top}/`" in layout, top
