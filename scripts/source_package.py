"""This checkout as one Python package, as Blender imports the installed extension, for scripts and
tests that use Blender-side modules without installing it: their relative imports cross the
top-level folders (``blender/`` imports ``..core``), which needs the checkout's root as a package.
Importing the root runs nothing: the extension registers only when Blender calls ``register()``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "gaussian_avatar_source"


def source_module(name: str) -> ModuleType:
    """The module ``name`` (e.g. "blender.synthetic.scene") of this checkout, inside the package."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{PACKAGE}.{name}")
