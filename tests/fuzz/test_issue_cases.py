"""The inputs issue 24 found, and the broken DyNeRF scenes of issue 26, one by one, through the
real operators: each is refused with one sentence naming the file, in a moment, and leaves bpy.data
as it was (tests/fuzz/harness.py)."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bpy
import numpy as np
import pytest

from tests.fuzz import mutations as mut
from tests.fuzz import seeds
from tests.fuzz.harness import input_names, run_case
from tests.fuzz.targets import TARGETS

Case = Callable[[Path], Path]


def _amass(**changes: Any) -> Case:
    def make(folder: Path) -> Path:
        path = seeds.amass_clip(folder, 0)
        arrays = dict(np.load(path))
        arrays.update(changes)
        np.savez(path, **arrays)
        return path

    return make


def _fifo(name: str) -> Case:
    def make(folder: Path) -> Path:
        os.mkfifo(folder / name)
        return folder / name

    return make


def _dev_zero(name: str) -> Case:
    def make(folder: Path) -> Path:
        (folder / name).symlink_to("/dev/zero")
        return folder / name

    return make


def _flame_fps(folder: Path) -> Path:
    path = seeds.flame_sequence(folder, 1)
    arrays = dict(np.load(path))
    arrays["fps"] = np.array(1e-6)
    np.savez(path, **arrays)
    return path


def _unicode_frames(folder: Path) -> Path:
    root = seeds.flame_sequence(folder, 0)
    frames = sorted((root / "flame_param").glob("0*.npz"))
    frames[1].rename(frames[1].with_name("①.npz"))
    frames[2].write_bytes(b"PK\x03\x04 damaged")
    return root


def _deep_json(folder: Path) -> Path:
    path = folder / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    return path


def _arkit_time(folder: Path) -> Path:
    path = folder / "take.csv"
    path.write_text("time,jawOpen\n0,0.1\n1e12,0.2\n", encoding="utf-8")
    return path


def _avatar_header(field: str, value: Any) -> Case:
    def make(folder: Path) -> Path:
        _model_file, model = seeds.flame_model_file(folder)
        path = seeds.avatar_file(folder, 0, model)
        with zipfile.ZipFile(path) as archive:
            members = {n: archive.read(n) for n in archive.namelist()}
        header = json.loads(members["header.json"])
        if field == "rank":
            header["dynamics"]["rank"] = 1e400  # written as Infinity
        else:
            header[field] = value
        members["header.json"] = json.dumps(header).encode()
        mut.write_zip_members(path, members)
        return path

    return make


def _avatar_offset(folder: Path) -> Path:
    _model_file, model = seeds.flame_model_file(folder)
    path = seeds.avatar_file(folder, 0, model)
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members["identity/static_offset.npy"] = mut.npy_bytes(np.full((model.num_vertices, 3), 1e300))
    mut.write_zip_members(path, members)
    return path


def _avatar_bomb(folder: Path) -> Path:
    _model_file, model = seeds.flame_model_file(folder)
    path = seeds.avatar_file(folder, 0, model)
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if n != "binding/offset.npy"}
    mut.write_zip_members(path, members)
    mut.add_raw_deflated_member(path, "binding/offset.npy", *mut.deflate_bomb_npy())
    return path


def _pickle(data: bytes) -> Case:
    def make(folder: Path) -> Path:
        path = folder / "generic_model.pkl"
        path.write_bytes(data)
        return path

    return make


def _ga_bad_zip(folder: Path) -> Path:
    from tests.fuzz.targets import _ga_seed

    root = _ga_seed(folder, 0, CONTEXT["import_gaussianavatars"])
    params = root / "flame_param.npz"
    out, _label = mut.zip_header_edit(params.read_bytes(), np.random.default_rng(1))
    params.write_bytes(out[: len(out) // 2])
    return root


def _undecodable(folder: Path) -> Path:
    path = seeds.amass_clip(folder, 0)
    return path.rename(folder / os.fsdecode(b"walk\xff.npz"))


def _dynerf(damage: Callable[[Path], None], **scene: Any) -> Case:
    def make(folder: Path) -> Path:
        from tests.fixtures.dynerf import write_dynerf

        root = write_dynerf(folder / "scene", **{"cameras": 3, "frames": 3, **scene}).root
        damage(root)
        return root

    return make


def _poses(change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        np.save(root / "poses_bounds.npy", change(np.load(root / "poses_bounds.npy")))

    return damage


def _poses_fifo(root: Path) -> None:
    (root / "poses_bounds.npy").unlink()
    os.mkfifo(root / "poses_bounds.npy")


CASES: dict[str, tuple[str, Case]] = {
    "amass-fifo": ("import_amass", _fifo("clip.npz")),
    "amass-poses-1e300": ("import_amass", _amass(poses=np.full((6, 165), 1e300))),
    "amass-trans-beyond-float32": ("import_amass", _amass(trans=np.full((6, 3), 3.5e38))),
    "amass-nan-expression": ("import_amass", _amass(expression=np.full((6, 10), np.nan))),
    "amass-fps-1e-3": ("import_amass", _amass(mocap_framerate=np.array(1e-3))),
    "amass-poses-string": ("import_amass", _amass(poses=np.array("poses"))),
    "amass-undecodable-name": ("import_amass", _undecodable),
    "reenact-fifo": ("reenact", _fifo("seq.npz")),
    "reenact-fps-1e-6": ("reenact", _flame_fps),
    "reenact-unicode-digit-frames": ("reenact", _unicode_frames),
    "arkit-time-1e12": ("import_arkit", _arkit_time),
    "arkit-deep-json": ("import_arkit", _deep_json),
    "rig-fifo": ("add_rig", _fifo("generic_model.pkl")),
    "rig-dev-zero": ("add_rig", _dev_zero("generic_model.pkl")),
    "rig-shared-memo-pickle": ("add_rig", _pickle(mut.shared_reference_pickle(40))),
    "rig-bytearray-pickle": ("add_rig", _pickle(mut.allocation_pickle())),
    "avatar-background-list1": ("import_avatar", _avatar_header("background", [1])),
    "avatar-background-null": ("import_avatar", _avatar_header("background", None)),
    "avatar-rank-infinity": ("import_avatar", _avatar_header("rank", None)),
    "avatar-static-offset-1e300": ("import_avatar", _avatar_offset),
    "avatar-member-bomb": ("import_avatar", _avatar_bomb),
    "ga-damaged-flame-param": ("import_gaussianavatars", _ga_bad_zip),
    "dynerf-no-poses": ("import_dynerf", _dynerf(lambda root: (root / "poses_bounds.npy").unlink())),
    "dynerf-poses-15-columns": ("import_dynerf", _dynerf(_poses(lambda p: p[:, :15]))),
    "dynerf-more-poses-than-videos": ("import_dynerf", _dynerf(_poses(lambda p: np.concatenate([p, p])))),
    "dynerf-unreadable-mp4": (
        "import_dynerf",
        _dynerf(lambda root: (root / "cam01.mp4").write_bytes(b"\x00" * 3000)),
    ),
    "dynerf-uneven-videos": ("import_dynerf", _dynerf(lambda _root: None, frame_counts={1: 2})),
    "dynerf-poses-fifo": ("import_dynerf", _dynerf(_poses_fifo)),
}
CONTEXT: dict[str, dict[str, Any]] = {}


@pytest.mark.parametrize("case", sorted(CASES))
def test_issue_input_is_refused_in_one_sentence(addon: str, tmp_path: Path, case: str) -> None:
    name, make = CASES[case]
    target = TARGETS[name]
    (tmp_path / "setup").mkdir()
    CONTEXT[name] = ctx = target.setup(tmp_path / "setup")
    ctx.setdefault("families", {})["generic_model.pkl"] = "FLAME"
    path = make(tmp_path)
    rng = np.random.default_rng(0)
    outcome = run_case(case, lambda: target.call(path, ctx, rng), input_names(path), seconds=20.0)
    assert outcome.result == "CANCELLED" and outcome.ok, (outcome.problems, outcome.message)
    assert outcome.seconds < 10.0, outcome.seconds


def test_arkit_strength_nan_keys_nothing(addon: str, tmp_path: Path) -> None:
    TARGETS["import_arkit"].setup(tmp_path)
    path = seeds.arkit_file(tmp_path, 0)
    before = len(bpy.data.actions)
    for strength in (float("nan"), float("inf")):
        with pytest.raises(RuntimeError, match="The strength must be a finite number"):
            bpy.ops.gavatar.import_arkit(filepath=str(path), strength=strength)
    assert len(bpy.data.actions) == before
    assert bpy.ops.gavatar.import_arkit(filepath=str(path), strength=1.0) == {"FINISHED"}
