"""The importers under fuzz: how to set the scene up, make a valid input, damage it, and call the
operator through ``bpy.ops``."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy
import numpy as np

from tests.fixtures.blender_rig_models import make_model
from tests.fuzz import seeds
from tests.fuzz.damage import mutate_path

Rng = np.random.Generator
ARKIT_NAMED = ("jawOpen", "eyeBlinkLeft", "mouthSmileLeft", "browInnerUp", "cheekPuff", "custom")


@dataclass
class Target:
    name: str
    setup: Callable[[Path], dict[str, Any]]  # scene set-up, once; returns what the calls need
    seed: Callable[[Path, int, dict[str, Any]], Path]  # a valid input (file or folder)
    call: Callable[[Path, dict[str, Any], Rng], Any]  # the bpy.ops call


# --- scene set-ups --------------------------------------------------------------------------------


def _empty(_tmp: Path) -> dict[str, Any]:
    bpy.ops.wm.read_homefile(use_empty=True)
    return {}


def _smplx_rig(tmp: Path) -> dict[str, Any]:
    _empty(tmp)
    model_file = seeds.rig_files.smplx_npz(
        tmp, num_vertices=150, num_faces=200, num_shape=10, num_expression=10
    )
    assert bpy.ops.gavatar.add_rig(family="SMPLX", model_path=str(model_file)) == {"FINISHED"}
    return {}


def _flame_rig(tmp: Path) -> dict[str, Any]:
    _empty(tmp)
    build = _addon_module("blender.rig.build")
    build.build_rig(
        make_model("FLAME", seed=2, num_expression=len(ARKIT_NAMED), expression_names=ARKIT_NAMED)
    )
    return {}


def _avatar_setup(tmp: Path) -> dict[str, Any]:
    _empty(tmp)
    model_file, model = seeds.flame_model_file(tmp)
    return {"model_file": model_file, "model": model}


def _ga_setup(tmp: Path) -> dict[str, Any]:
    from tests.fixtures.engine import sphere_head_model
    from tests.fixtures.files import ga

    _empty(tmp)
    model = sphere_head_model()
    return {"model": model, "model_file": ga.write_flame_model(tmp, model)}


@functools.cache
def _addon_module(name: str) -> Any:
    from tests.fixtures.animate import module

    return module(name)


# --- seeds that need the set-up ------------------------------------------------------------------


def _avatar_seed(folder: Path, index: int, ctx: dict[str, Any]) -> Path:
    return seeds.avatar_file(folder, index, ctx["model"])


def _ga_seed(folder: Path, index: int, ctx: dict[str, Any]) -> Path:
    from tests.fixtures.files import ga

    return ga.write_ga_folder(folder / f"result{index}", ctx["model"], count=40, frames=3, seed=index).folder


def _rig_seed(folder: Path, index: int, ctx: dict[str, Any]) -> Path:
    path, family = seeds.rig_model(folder, index)
    ctx.setdefault("families", {})[path.name] = family
    return path


def _rig_call(path: Path, ctx: dict[str, Any], rng: Rng) -> Any:
    family = ctx.get("families", {}).get(path.name)
    if family is None:  # a renamed or replaced file: any family
        family = ["FLAME", "SMPLX"][int(rng.integers(0, 2))]
    return bpy.ops.gavatar.add_rig(family=family, model_path=str(path))


TARGETS: dict[str, Target] = {
    "import_amass": Target(
        "import_amass",
        _smplx_rig,
        lambda folder, i, _ctx: seeds.amass_clip(folder, i),
        lambda p, _ctx, rng: bpy.ops.gavatar.import_amass(
            filepath=str(p), fps_mode=["SOURCE", "SCENE"][int(rng.integers(0, 2))]
        ),
    ),
    "reenact": Target(
        "reenact",
        _flame_rig,
        lambda folder, i, _ctx: seeds.flame_sequence(folder, i),
        lambda p, _ctx, rng: bpy.ops.gavatar.reenact(
            filepath=str(p), use_translation=bool(rng.random() < 0.5)
        ),
    ),
    "import_arkit": Target(
        "import_arkit",
        _flame_rig,
        lambda folder, i, _ctx: seeds.arkit_file(folder, i),
        lambda p, _ctx, rng: bpy.ops.gavatar.import_arkit(
            filepath=str(p), strength=float(rng.choice([1.0] * 9 + [0.5, np.nan, np.inf, 1e30]))
        ),
    ),
    "import_avatar": Target(
        "import_avatar",
        _avatar_setup,
        _avatar_seed,
        lambda p, ctx, _rng: bpy.ops.gavatar.import_avatar(
            filepath=str(p), model_path=str(ctx["model_file"])
        ),
    ),
    "add_rig": Target("add_rig", _empty, _rig_seed, _rig_call),
    "import_dataset": Target(
        "import_dataset",
        _empty,
        lambda folder, i, _ctx: seeds.dataset_folder(folder, i),
        lambda p, _ctx, _rng: bpy.ops.gavatar.import_dataset(directory=str(p)),
    ),
    "import_dynerf": Target(
        "import_dynerf",
        _empty,
        lambda folder, i, _ctx: seeds.dynerf_folder(folder, i),
        lambda p, _ctx, _rng: bpy.ops.gavatar.import_dataset(directory=str(p)),
    ),
    "import_hypernerf": Target(
        "import_hypernerf",
        _empty,
        lambda folder, i, _ctx: seeds.hypernerf_folder(folder, i),
        lambda p, _ctx, _rng: bpy.ops.gavatar.import_dataset(directory=str(p)),
    ),
    "import_gaussianavatars": Target(
        "import_gaussianavatars",
        _ga_setup,
        _ga_seed,
        lambda p, ctx, _rng: bpy.ops.gavatar.import_gaussianavatars(
            directory=str(p), model_path=str(ctx["model_file"])
        ),
    ),
    "apply_params": Target(
        "apply_params",
        _flame_rig,
        lambda folder, i, _ctx: seeds.params_file(folder, i),
        lambda p, _ctx, rng: bpy.ops.gavatar.apply_params(filepath=str(p), keyframe=bool(rng.random() < 0.5)),
    ),
    "import_sequence": Target(
        "import_sequence",
        _empty,
        lambda folder, i, _ctx: seeds.sequence_file(folder, i),
        lambda p, _ctx, _rng: bpy.ops.gavatar.import_sequence(filepath=str(p)),
    ),
    "import_ply": Target(
        "import_ply",
        _empty,
        lambda folder, i, _ctx: seeds.ply_file(folder, i),
        lambda p, _ctx, _rng: bpy.ops.gavatar.import_ply(filepath=str(p)),
    ),
}


def make_case(target: Target, work: Path, index: int, seed: int, ctx: dict[str, Any]) -> tuple[Path, str]:
    """A fresh valid input for case ``index`` (cached per seed kind) damaged by ``seed``."""
    rng = np.random.default_rng([seed, index])
    case = work / f"case{index}"
    case.mkdir(parents=True)
    cache = work / "seeds"
    cache.mkdir(exist_ok=True)
    kind = index % 6
    source = ctx.setdefault("seed_paths", {}).get(kind)
    if source is None:
        source = target.seed(cache, kind, ctx)
        ctx["seed_paths"][kind] = source
    copy = case / source.name
    if source.is_dir():
        shutil.copytree(source, copy)
    else:
        shutil.copy(source, copy)
        if "families" in ctx:
            ctx["families"][copy.name] = ctx["families"][source.name]
    path, label = mutate_path(copy, rng)
    return path, label
