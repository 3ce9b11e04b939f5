"""Damage a valid input in place: one file (by its kind), or one file inside a folder, or put a
special file or an odd name in its place. bpy-free, so the trainer's fuzz uses it too."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from core.rig import loaders
from tests.fixtures.files import rig_files
from tests.fuzz import mutations as mut

Rng = np.random.Generator


def mutate_file(path: Path, rng: Rng) -> str:
    suffix = path.suffix.lower()
    data = path.read_bytes()
    if suffix == ".npz" and rng.random() < 0.8:
        return mut.mutate_npz(path, rng)
    if suffix == ".npy" and rng.random() < 0.8:
        return mut.mutate_npy(path, rng)
    if suffix == ".json" and rng.random() < 0.8:
        text, label = mut.mutate_json_text(data.decode("utf-8", "replace"), rng)
        path.write_text(text, encoding="utf-8")
        return label
    if suffix in (".csv", ".txt") and rng.random() < 0.8:
        text, label = mut.mutate_csv_text(data.decode("utf-8", "replace"), rng)
        path.write_text(text, encoding="utf-8")
        return label
    if suffix == ".ply":
        out, label = mut.mutate_ply(data, rng)
        path.write_bytes(out)
        return label
    if suffix == ".pkl" and rng.random() < 0.5:
        return _mutate_pickle(path, rng)
    if suffix in (".gavatar", ".gavatar4d") and rng.random() < 0.8:  # both are zips of .npy members
        return _mutate_gavatar(path, rng)
    if suffix == ".png" and rng.random() < 0.3:
        return _png_bomb(path)
    out, label = mut.byte_mutation(data, rng)
    path.write_bytes(out)
    return label


def _mutate_pickle(path: Path, rng: Rng) -> str:
    choice = int(rng.integers(0, 5))
    if choice == 0:
        path.write_bytes(mut.shared_reference_pickle())
        return "pickle-shared-40"
    if choice == 1:
        path.write_bytes(mut.allocation_pickle())
        return "pickle-bytearray-1e12"
    if choice == 2:
        path.write_bytes(mut.deep_pickle(int(rng.choice([100, 100_000]))))
        return "pickle-deep"
    arrays, _sha = loaders.read_model_dict(path)  # our own valid seed: plain arrays
    key = sorted(arrays)[int(rng.integers(0, len(arrays)))]
    arrays[key], what = mut.confused_value(arrays[key], rng)
    if choice == 3:
        key, what = "J_regressor", "sparse-broken"
        arrays[key] = _sparse_like(rng)
    with rig_files._fake_modules():
        path.write_bytes(pickle.dumps(arrays, protocol=2))
    return f"pickle {key}:{what}"


def _sparse_like(rng: Rng) -> Any:
    """A scipy CSC matrix as the official pickles hold one, with a damaged shape or index arrays."""
    holder = rig_files._FakeCscMatrix(np.eye(3))
    choice = int(rng.integers(0, 5))
    if choice == 0:
        holder._shape = (10**6, 10**6)
    elif choice == 1:
        holder._shape = (5, -3)
    elif choice == 2:
        holder._shape = (3,)
    elif choice == 3:
        del holder.indptr
    else:
        holder.indices = np.array([0, 1, 70])
    return holder


def _mutate_gavatar(path: Path, rng: Rng) -> str:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    choice = int(rng.integers(0, 6))
    if choice <= 1:
        text, label = mut.mutate_json_text(members["header.json"].decode("utf-8"), rng)
        if choice == 1:
            header = json.loads(members["header.json"])
            field, value = [
                ("background", [1]), ("background", None), ("background", "white"),
                ("num_gaussians", -1), ("num_gaussians", 10**12), ("sh_degree", 9),
                ("version", "3"), ("dynamics", {"rank": 1e400}), ("dynamics", {"rank": "x"}),
                ("rig", {"family": "FLAME", "num_faces": "many"}),
            ][int(rng.integers(0, 10))]  # fmt: skip
            header[field] = value
            text, label = json.dumps(header).replace("1e+400", "Infinity"), f"header {field}={value!r}"
        members["header.json"] = text.encode("utf-8")
    elif choice == 2:
        names = [n for n in members if n.endswith(".npy")]
        name = names[int(rng.integers(0, len(names)))]
        value = np.load(io.BytesIO(members[name]))
        confused, what = mut.confused_value(value, rng)
        members[name] = mut.npy_bytes(confused)
        label = f"{name}:{what}"
    elif choice == 3:
        names = [n for n in members if n.endswith(".npy")]
        name = names[int(rng.integers(0, len(names)))]
        shape = (int(rng.choice([10**6, 2**40])), 3)
        members[name] = mut.forged_npy(shape)
        label = f"{name}:forged{shape}"
    elif choice == 4 and rng.random() < 0.3:
        name = [n for n in members if n.endswith(".npy")][int(rng.integers(0, 4))]
        del members[name]
        mut.write_zip_members(path, members)
        mut.add_raw_deflated_member(path, name, *mut.deflate_bomb_npy())
        return f"{name}:deflate-bomb-1GiB"
    elif choice == 4:
        out, label = mut.zip_header_edit(path.read_bytes(), rng)
        path.write_bytes(out)
        return label
    else:
        out, label = mut.byte_mutation(path.read_bytes(), rng)
        path.write_bytes(out)
        return label
    mut.write_zip_members(path, members, compress=bool(rng.random() < 0.3))
    return label


def _png_bomb(path: Path) -> str:
    """A PNG whose header says 16000 x 16000 (the data stays small)."""
    data = bytearray(path.read_bytes())
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        data[16:24] = (16000).to_bytes(4, "big") * 2
    path.write_bytes(bytes(data))
    return "png-16000x16000"


def mutate_path(path: Path, rng: Rng) -> tuple[Path, str]:
    """Damage ``path`` (a file, or one file inside a folder); returns the path to import."""
    roll = rng.random()
    target = path
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        target = files[int(rng.integers(0, len(files)))]
    if roll < 0.08:
        return path, f"{target.name}:{mut.replace_with_special(target, rng)}"
    if roll < 0.12 and target is path:
        renamed = mut.odd_name(path, rng)
        return renamed, f"name:{renamed.name!a}"
    if roll < 0.14 and target is not path:
        return path, f"{target.name}->{mut.odd_name(target, rng).name!a}"
    return path, f"{target.relative_to(path.parent)}:{mutate_file(target, rng)}"
