"""The house rules of docs/MODULES.md, read from the source: imports point down the layers, never in
a circle, and the layers that Blender or the trainer load import nothing they cannot have.

Every import counts, also those inside functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Layer of each top-level folder: a module may import its own layer and the ones below.
LAYERS = {"core": 0, "engine": 1, "blender": 2, "ops": 3, "addon": 3}
# The trainer is a separate program beside the extension: it shares only the bpy-free core.
TRAINER_MAY_IMPORT = {"core", "training"}
BLENDER_ONLY = {"bpy", "mathutils", "gpu", "gpu_extras", "bmesh", "bl_math", "addon_utils", "bpy_extras"}


@dataclass(frozen=True)
class Import:
    source: str  # dotted module of the importing file, from the repository root
    target: str  # dotted module (or attribute) imported
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def source_files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def imports_of(path: Path) -> Iterator[Import]:
    source = module_name(path)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {id(n) for block in ast.walk(tree) if _is_type_checking(block) for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                yield Import(source, f"{module}.{alias.name}" if module else alias.name, node.lineno)


def _is_type_checking(node: ast.AST) -> bool:
    """An ``if TYPE_CHECKING:`` block: imports for the type checker, never run."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def extension_imports() -> list[Import]:
    files = [ROOT / "__init__.py"] + [p for folder in LAYERS for p in source_files(folder)]
    return [imp for path in files for imp in imports_of(path)]


def existing_module(dotted: str, modules: set[str]) -> str | None:
    """The longest prefix of dotted that is one of our modules (x.y.name -> x.y when name is an attribute)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for imp in extension_imports():
        top_source, top_target = imp.source.split(".")[0], imp.target.split(".")[0]
        if top_target in LAYERS and top_source in LAYERS and LAYERS[top_target] > LAYERS[top_source]:
            wrong.append(f"{imp.source}:{imp.line} imports {imp.target}")
    assert not wrong, "imports run up a layer:\n" + "\n".join(wrong)


def test_core_is_bpy_free_and_blender_side_is_torch_free() -> None:
    wrong = []
    for imp in extension_imports():
        top_source, top_target = imp.source.split(".")[0], imp.target.split(".")[0]
        if top_source == "core" and top_target in BLENDER_ONLY:
            wrong.append(f"{imp.source}:{imp.line} imports {imp.target} (core is bpy-free)")
        if top_target in {"torch", "gsplat", "smplx", "roma", "training"}:
            wrong.append(f"{imp.source}:{imp.line} imports {imp.target} (Blender's Python has no torch)")
    assert not wrong, "\n".join(wrong)


def test_trainer_shares_only_the_core() -> None:
    wrong = []
    for path in source_files("training"):
        for imp in imports_of(path):
            top = imp.target.split(".")[0]
            if (top in LAYERS and top not in TRAINER_MAY_IMPORT) or top in BLENDER_ONLY:
                wrong.append(f"{imp.source}:{imp.line} imports {imp.target}")
    assert not wrong, "the trainer must not load Blender-side code:\n" + "\n".join(wrong)


def test_no_import_circles() -> None:
    modules = {module_name(p) for folder in LAYERS for p in source_files(folder)}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in extension_imports():
        target = existing_module(imp.target, modules)
        if imp.source in graph and target and target != imp.source:
            # A package's __init__ re-exporting its own modules is not a circle of the design.
            if not imp.source or target.startswith(imp.source + "."):
                continue
            graph[imp.source].add(target)
    circles = strongly_connected(graph)
    assert not circles, "modules import each other in a circle:\n" + "\n".join(
        " -> ".join(sorted(c)) for c in circles
    )


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iteratively; returns the components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[set[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_the_circle_finder_finds_circles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(graph) == [{"a", "b", "c"}]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_folder_is_a_heap() -> None:
    crowded = []
    for folder in ["core", "engine", "blender", "addon", "ops", "training", "tests", "benchmarks", "scripts"]:
        for directory in [ROOT / folder, *(p for p in (ROOT / folder).rglob("*") if p.is_dir())]:
            if "__pycache__" in directory.parts:
                continue
            loose = [p for p in directory.iterdir() if p.is_file() and p.suffix in {".py", ".js"}]
            if len(loose) > 17:
                crowded.append(f"{directory.relative_to(ROOT)}: {len(loose)} files")
    assert not crowded, "folders that need sub-folders:\n" + "\n".join(crowded)
