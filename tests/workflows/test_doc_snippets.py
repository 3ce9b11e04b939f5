"""Every Python snippet of README.md and docs/GUIDE.md, run (real bpy, the add-on enabled).

Snippets are the indented code blocks that hold Python and every inline `bpy.ops.gavatar...(...)`.
Each document is walked in order in one Blender session, as a reader following it would: example
paths map to files made here (a small GaussianAvatars-format dataset, an avatar for the FLAME
stand-in, the real AMASS clip in /work/shared/real when present) and the prose's own steps between
snippets ("switch the render engine to Gaussian Avatar") are done in BEFORE. A snippet whose
arguments are placeholders (`filepath=...`, `family='FLAME'|'SMPLX'`) cannot run: it is checked
to name a real operator and real properties. SKIP lists the few that cannot run here, with reasons.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy
import numpy as np
import pytest

from core.rig import loaders, standins
from tests.blender.test_avatar_import import make_avatar
from tests.fixtures.dataset import write_gaussian_avatars
from tests.fixtures.real_data import real_file

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/GUIDE.md")
REAL_AMASS = real_file("amass_sample_smplh.npz")  # None when ../shared/real is absent

# Snippets (by a piece of their text) that cannot run here, and why.
SKIP = {
    "bpy.ops.gavatar.train(": "needs a CUDA GPU and a long run (test_train_blender.py trains on the CPU)",
    "bpy.ops.gavatar.retarget(": "needs a Mixamo-named rig (test_retarget_preview.py runs it)",
    "bpy.ops.gavatar.render_distributed(": "starts worker Blenders (test_render_farm.py runs it)",
}


@dataclass(frozen=True)
class Snippet:
    doc: str
    line: int
    code: str

    @property
    def label(self) -> str:
        return f"{self.doc}:{self.line}"


def _python_blocks(doc: str, text: str) -> Iterator[Snippet]:
    """Indented (4-space) code blocks after a blank line that hold Python (bpy or imports)."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].startswith("    ") and i > 0 and not lines[i - 1].strip():
            j = i
            while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
                j += 1
            code = "\n".join(line[4:] for line in lines[i:j]).strip("\n")
            if "bpy." in code or re.match(r"(from|import) \w", code):
                yield Snippet(doc, i + 1, code)
            i = j
        else:
            i += 1


def _inline_calls(doc: str, text: str) -> Iterator[Snippet]:
    """Inline code spans (which may wrap across lines) that start with bpy.ops.gavatar."""
    for match in re.finditer(r"`(bpy\.ops\.gavatar\.\w+\([^`]*)`", text):
        code = re.sub(r"\s*\n\s*", " ", match.group(1))
        yield Snippet(doc, text.count("\n", 0, match.start()) + 1, code)


def snippets(doc: str) -> list[Snippet]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    found = [*_python_blocks(doc, text), *_inline_calls(doc, text)]
    seen: set[tuple[int, str]] = set()
    unique = []
    for s in sorted(found, key=lambda s: s.line):
        if (s.line, s.code) not in seen:
            seen.add((s.line, s.code))
            unique.append(s)
    return unique


def _is_placeholder(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # 'FLAME'|'SMPLX': choices
        return True
    return any(_is_placeholder(child) for child in ast.iter_child_nodes(node))


def _operator_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func).startswith("bpy.ops.gavatar.")
    ]


def check_names(snippet: Snippet) -> ast.Module:
    """Parses the snippet; every gavatar operator it calls exists and takes the keywords it passes."""
    try:
        tree = ast.parse(snippet.code)
    except SyntaxError as exc:
        raise AssertionError(f"{snippet.label} is not Python: {exc.msg}: {snippet.code!r}") from None
    for call in _operator_calls(tree):
        name = ast.unparse(call.func).removeprefix("bpy.ops.gavatar.")
        assert hasattr(bpy.types, f"GAVATAR_OT_{name}"), f"{snippet.label}: no operator gavatar.{name}"
        properties = getattr(bpy.ops.gavatar, name).get_rna_type().properties.keys()
        for keyword in call.keywords:
            assert keyword.arg in properties, f"{snippet.label}: gavatar.{name} has no property {keyword.arg}"
    return tree


# ----------------------------------------------------------------------------------- the walk


@pytest.fixture
def files(addon: str, clean_scene: None, tmp_path: Path) -> dict[str, str]:
    """The documents' example paths, mapped to files made here."""
    flame = standins.standin_path("FLAME")
    if not flame.is_file():
        pytest.skip(f"the FLAME stand-in is not built ({flame})")
    dataset = tmp_path / "dataset"
    write_gaussian_avatars(dataset, num_vertices=None)
    avatar = tmp_path / "avatar.gavatar"
    make_avatar(loaders.load_model(flame, family="FLAME"), avatar)  # trained on the stand-in
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "walk.blend"))  # '//' paths need a saved file
    out = {
        '"/data/nersemble/306"': dataset,
        '"/data/306"': dataset,
        '"avatar.gavatar"': avatar,
        '"/shared/jobs/shot010"': tmp_path / "jobs",
        '"head.glb"': tmp_path / "head.glb",
    }
    if REAL_AMASS is not None:
        out['"/amass/CMU/01/01_01_poses.npz"'] = REAL_AMASS
    return {key: repr(str(path)) for key, path in out.items()}


def _small_gavatar_render() -> None:
    """The prose before the render snippet: the Gaussian Avatar engine, and a camera (small here)."""
    scene = bpy.context.scene
    scene.render.engine = "GAVATAR"
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 24, 24, 100
    if scene.camera is None:
        scene.camera = next(o for o in scene.objects if o.type == "CAMERA")


def _head_rig() -> None:
    bpy.ops.gavatar.add_rig(family="FLAME")


def _active_avatar() -> None:
    """'on the active avatar': the splat object Import Avatar made."""
    splat = next(o for o in bpy.context.scene.objects if o.gavatar_splat.is_splat)
    bpy.context.view_layer.objects.active = splat


# What the prose between snippets has the reader do, by a piece of the snippet's text.
BEFORE: dict[str, Callable[[], None]] = {
    "bpy.ops.gavatar.render_sequence(frame_start=1": _small_gavatar_render,
    "bpy.ops.gavatar.joint_angles(": _head_rig,
    "bpy.ops.gavatar.export_gltf_avatar(": _active_avatar,
}


def _reason_to_skip(snippet: Snippet, paths: dict[str, str]) -> str | None:
    for piece, reason in SKIP.items():
        if piece in snippet.code:
            return reason
    if "/amass/" in snippet.code and '"/amass/CMU/01/01_01_poses.npz"' not in paths:
        return "the real AMASS clip (../shared/real) is absent"
    return None


def walk(doc: str, paths: dict[str, str]) -> dict[str, list[str]]:
    """Runs the document's snippets in order; returns the labels run, name-checked and skipped."""
    done: dict[str, list[str]] = {"ran": [], "checked": [], "skipped": []}
    namespace: dict[str, Any] = {"bpy": bpy, "np": np}
    for snippet in snippets(doc):
        if _reason_to_skip(snippet, paths):
            done["skipped"].append(snippet.label)
            continue
        tree = check_names(snippet)
        if any(_is_placeholder(call) for call in _operator_calls(tree)):
            done["checked"].append(snippet.label)
            continue
        code = snippet.code
        for example, path in paths.items():
            code = code.replace(example, path)
        for piece, step in BEFORE.items():
            if piece in snippet.code:
                step()
        try:
            exec(compile(code, snippet.label, "exec"), namespace)
        except Exception as exc:
            raise AssertionError(
                f"{snippet.label} failed: {type(exc).__name__}: {exc}\n{snippet.code}"
            ) from None
        done["ran"].append(snippet.label)
    return done


def test_snippets_are_found() -> None:
    readme = {s.code.split("(")[0] for s in snippets("README.md")}
    assert {"bpy.ops.gavatar.import_dataset", "bpy.ops.gavatar.render_sequence"} <= readme
    guide = snippets("docs/GUIDE.md")
    assert any(s.code.startswith("from core.datasets import") for s in guide)


@pytest.mark.slow  # the README walk renders 120 frames and round-trips a glTF: about 45 s
@pytest.mark.parametrize("doc", DOCS)
def test_every_snippet_runs(files: dict[str, str], doc: str) -> None:
    done = walk(doc, files)
    print(f"{doc}: ran {len(done['ran'])}, names checked {len(done['checked'])}, skipped {done['skipped']}")
    assert done["ran"], f"{doc}: no snippet ran"
    assert len(done["skipped"]) <= len(SKIP) + 1, "the skip list must stay short"
