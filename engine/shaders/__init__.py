"""GLSL programs of the GAVATAR engine, one module per program, compiled once per process.

Each module exposes ``build() -> Shader``; ``get(module)`` compiles on first use.
Compiled programs are the only state kept here; ``clear()`` drops them (unregister, tests).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from ..gpu.api import Shader

_compiled: dict[str, Shader] = {}


def get(module: ModuleType) -> Shader:
    shader = _compiled.get(module.__name__)
    if shader is None:
        build: Callable[[], Shader] = module.build
        shader = build()
        _compiled[module.__name__] = shader
    return shader


def clear() -> None:
    _compiled.clear()
