"""Seeded mutations of valid files: bytes, zip containers, .npy members, JSON, CSV, PLY headers,
pickles, and special files in their place. Each mutation changes a file (or folder entry) in place
and returns a short label of what it did, so a failing case can be rebuilt from its seed."""

from __future__ import annotations

import functools
import io
import json
import os
import pickle
import shutil
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Rng = np.random.Generator

# --- bytes ------------------------------------------------------------------------------------


def truncate(data: bytes, rng: Rng) -> tuple[bytes, str]:
    cut = int(rng.integers(0, max(len(data), 1)))
    return data[:cut], f"truncate@{cut}"


def flip_bytes(data: bytes, rng: Rng) -> tuple[bytes, str]:
    out = bytearray(data)
    count = int(rng.integers(1, 9))
    for _ in range(count):
        if out:
            i = int(rng.integers(0, len(out)))
            out[i] ^= int(rng.integers(1, 256))
    return bytes(out), f"flip{count}"


def overwrite_region(data: bytes, rng: Rng) -> tuple[bytes, str]:
    out = bytearray(data)
    if not out:
        return data, "overwrite-empty"
    start = int(rng.integers(0, len(out)))
    size = int(rng.integers(1, 64))
    out[start : start + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    return bytes(out), f"overwrite@{start}+{size}"


def zero_region(data: bytes, rng: Rng) -> tuple[bytes, str]:
    out = bytearray(data)
    if not out:
        return data, "zero-empty"
    start = int(rng.integers(0, len(out)))
    size = int(rng.integers(1, 256))
    end = min(len(out), start + size)
    out[start:end] = bytes(end - start)
    return bytes(out), f"zero@{start}+{size}"


BYTE_MUTATIONS: tuple[Callable[[bytes, Rng], tuple[bytes, str]], ...] = (
    truncate,
    flip_bytes,
    overwrite_region,
    zero_region,
)


def byte_mutation(data: bytes, rng: Rng) -> tuple[bytes, str]:
    return BYTE_MUTATIONS[int(rng.integers(0, len(BYTE_MUTATIONS)))](data, rng)


# --- zip containers ---------------------------------------------------------------------------


def _patch_all(data: bytes, signature: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    start = 0
    while True:
        i = out.find(signature, start)
        if i < 0:
            return bytes(out)
        if i + offset + struct.calcsize(fmt) <= len(out):
            struct.pack_into(fmt, out, i + offset, value)
        start = i + 4


def zip_header_edit(data: bytes, rng: Rng) -> tuple[bytes, str]:
    """Unknown 'version needed', unknown compression method, forged sizes, encryption flag."""
    local, central = b"PK\x03\x04", b"PK\x01\x02"
    choice = int(rng.integers(0, 5))
    if choice == 0:  # version needed to extract: 6.3 and beyond
        out = _patch_all(data, local, 4, "<H", 99)
        return _patch_all(out, central, 6, "<H", 99), "zip-version-99"
    if choice == 1:  # compression method 99 (AES) / 14 (LZMA) / 12 (bzip2)
        method = int(rng.choice([99, 14, 12, 97]))
        out = _patch_all(data, local, 8, "<H", method)
        return _patch_all(out, central, 10, "<H", method), f"zip-method-{method}"
    if choice == 2:  # uncompressed size forged huge
        out = _patch_all(data, local, 22, "<I", 0xFFFFFFF0)
        return _patch_all(out, central, 24, "<I", 0xFFFFFFF0), "zip-size-forged"
    if choice == 3:  # encrypted flag
        out = _patch_all(data, local, 6, "<H", 1)
        return _patch_all(out, central, 8, "<H", 1), "zip-encrypted"
    out = _patch_all(data, central, 16, "<I", int(rng.integers(0, 2**32)))  # CRC
    return out, "zip-crc"


@functools.cache
def deflate_bomb_npy(shape: tuple[int, ...] = (1 << 27,)) -> tuple[bytes, int, int]:
    """A raw-deflated .npy of float64 zeros: about 1 MiB on disk, ``8 * prod(shape)`` bytes
    inflated (1 GiB by default). Returns (deflated bytes, inflated size, CRC). One 1 MiB block is
    compressed once and repeated: after a full flush each block stands alone in the stream."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    head = header.getvalue()
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    block = bytes(1 << 20)
    repeated = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    total = 8 * int(np.prod(shape))
    count = total // len(block)
    tail = comp.flush(zlib.Z_FINISH)
    # The CRC is left 0: the reader must refuse the member long before it could check it.
    return first + repeated * count + tail, len(head) + count * len(block), 0


def write_zip_members(path: Path, members: dict[str, bytes], compress: bool = False) -> None:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)


def add_raw_deflated_member(path: Path, name: str, deflated: bytes, size: int, crc: int = 0) -> None:
    """Append a member whose deflated bytes are given (a bomb without inflating it here)."""
    with zipfile.ZipFile(path, "a") as archive:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        # Write through the low-level API: header with the given sizes, then the raw stream.
        info.file_size, info.compress_size, info.CRC = size, len(deflated), crc
        fp = archive.fp
        assert fp is not None
        info.header_offset = fp.tell()
        fp.write(info.FileHeader(zip64=False))
        fp.write(deflated)
        archive.filelist.append(info)
        archive.NameToInfo[name] = info
        archive.start_dir = fp.tell()
        archive._didModify = True


# --- arrays (.npy / .npz) ----------------------------------------------------------------------


def npy_bytes(array: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=True)
    return buffer.getvalue()


def forged_npy(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    """A header announcing ``shape`` followed by a few bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    return header.getvalue() + bytes(64)


def confused_value(value: np.ndarray, rng: Rng) -> tuple[Any, str]:
    """Type confusion and special values for one array."""
    arr = np.asarray(value)
    choice = int(rng.integers(0, 17))
    if choice == 0:
        return np.array("not numbers"), "string"
    if choice == 1:
        return np.float64(rng.normal()), "0-d"
    if choice == 2:
        return np.zeros(
            (0,) + arr.shape[1:], dtype=arr.dtype if arr.dtype.kind in "biuf" else np.float64
        ), "empty"
    if choice == 3:
        return np.zeros((0,)), "empty-1d"
    if choice == 4:
        return arr.reshape(-1), "flattened"
    if choice == 5 and arr.ndim >= 2:
        return arr.T.copy(), "transposed"
    if choice == 6:
        return np.array([{"a": 1}, None], dtype=object), "object"
    if arr.dtype.kind not in "iuf" or arr.size == 0:
        return np.array([np.nan]), "nan-scalar"
    out = arr.astype(np.float64).copy()
    flat = out.reshape(-1)
    index = int(rng.integers(0, flat.size))
    specials = {
        7: (np.nan, "nan"),
        8: (np.inf, "inf"),
        9: (1e300, "1e300"),
        10: (-1e300, "-1e300"),
        11: (3.5e38, "beyond-float32"),
        12: (1e-6, "tiny"),
        13: (1e12, "1e12"),
        14: (-1.0, "negative"),
    }
    if choice in specials:
        number, label = specials[choice]
        if out.size == 1 or rng.random() < 0.3:
            flat[:] = number
        else:
            flat[index] = number
        return out, label
    if choice == 15:
        return out.astype(np.complex128), "complex"
    return np.tile(out, (2,) + (1,) * (out.ndim - 1)) if out.ndim else out, "doubled"


def mutate_npy(path: Path, rng: Rng) -> str:
    """Edit a lone .npy array (LLFF's poses_bounds.npy): type confusion and special values, a
    forged header, or damaged bytes."""
    array = np.load(path, allow_pickle=False)  # our own valid seed file
    roll = rng.random()
    if roll < 0.6:
        value, label = confused_value(array, rng)
        path.write_bytes(npy_bytes(value))
        return f"npy:{label}"
    if roll < 0.75:
        shape = tuple(int(s) for s in rng.choice([10**6, 10**9, 2**40, 17], size=int(rng.integers(1, 4))))
        path.write_bytes(forged_npy(shape))
        return f"npy:forged-shape{shape}"
    data, label = byte_mutation(path.read_bytes(), rng)
    path.write_bytes(data)
    return label


def mutate_npz(path: Path, rng: Rng) -> str:
    """Edit the arrays of an .npz (type confusion, special values, missing keys, forged headers)
    and sometimes damage the container's bytes as well."""
    with np.load(path, allow_pickle=True) as archive:  # our own valid seed file
        arrays = {k: archive[k] for k in archive.files}
    keys = sorted(arrays)
    roll = rng.random()
    if roll < 0.55 and keys:
        key = keys[int(rng.integers(0, len(keys)))]
        arrays[key], what = confused_value(arrays[key], rng)
        label = f"{key}:{what}"
    elif roll < 0.65 and keys:
        key = keys[int(rng.integers(0, len(keys)))]
        del arrays[key]
        label = f"drop:{key}"
    elif roll < 0.69 and keys:
        key = keys[int(rng.integers(0, len(keys)))]
        members = {f"{k}.npy": npy_bytes(v) for k, v in arrays.items() if k != key}
        write_zip_members(path, members)
        add_raw_deflated_member(path, f"{key}.npy", *deflate_bomb_npy())
        return f"{key}:deflate-bomb-1GiB"
    elif roll < 0.75 and keys:
        key = keys[int(rng.integers(0, len(keys)))]
        members = {f"{k}.npy": npy_bytes(v) for k, v in arrays.items()}
        shape = tuple(int(s) for s in rng.choice([10**6, 10**9, 2**40, 3], size=int(rng.integers(1, 4))))
        members[f"{key}.npy"] = forged_npy(shape)
        write_zip_members(path, members, compress=bool(rng.random() < 0.5))
        return f"{key}:forged-shape{shape}"
    else:
        data, label = (
            zip_header_edit(path.read_bytes(), rng)
            if rng.random() < 0.5
            else byte_mutation(path.read_bytes(), rng)
        )
        path.write_bytes(data)
        return label
    saver = np.savez_compressed if rng.random() < 0.5 else np.savez
    with open(path, "wb") as handle:
        saver(handle, **arrays)
    if rng.random() < 0.15:
        data, extra = byte_mutation(path.read_bytes(), rng)
        path.write_bytes(data)
        label += f"+{extra}"
    return label


# --- JSON ---------------------------------------------------------------------------------------


def _deep(depth: int) -> Any:
    return json.loads("[" * depth + "]" * depth) if depth < 900 else None


def _json_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _json_paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:6]):
            out += _json_paths(v, (*prefix, i))
    return out


def mutate_json_text(text: str, rng: Rng) -> tuple[str, str]:
    try:
        doc = json.loads(text)
    except ValueError:
        return text[: len(text) // 2], "half"
    choice = int(rng.integers(0, 10))
    if choice == 0:
        depth = int(rng.choice([200, 5000, 200000]))
        return "[" * depth + "]" * depth, f"deep{depth}"
    if choice == 1:
        return text[: int(rng.integers(0, len(text) + 1))], "truncate"
    paths = [p for p in _json_paths(doc) if p]
    if not paths:
        return json.dumps([doc, "x"]), "wrap"
    where = paths[int(rng.integers(0, len(paths)))]
    replacements: list[tuple[Any, str]] = [
        ("text", "string"),
        (None, "null"),
        ([1], "list1"),
        ({}, "object"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (1e300, "1e300"),
        (-1, "negative"),
        (True, "bool"),
        (10**30, "huge-int"),
    ]
    value, label = replacements[int(rng.integers(0, len(replacements)))]
    parent = doc
    for step in where[:-1]:
        parent = parent[step]
    if choice == 2 and isinstance(parent, dict):
        del parent[where[-1]]
        return json.dumps(doc), f"drop:{where[-1]}"
    parent[where[-1]] = value
    out = json.dumps(doc)
    if choice == 3:
        out = out.replace("1e+300", "1e400")
    return out, f"{'/'.join(map(str, where))[:40]}:{label}"


# --- CSV ------------------------------------------------------------------------------------------


def mutate_csv_text(text: str, rng: Rng) -> tuple[str, str]:
    lines = text.splitlines()
    if len(lines) < 2:
        return text + "\n1e999", "append"
    choice = int(rng.integers(0, 7))
    row = int(rng.integers(1, len(lines)))
    cells = lines[row].split(",")
    col = int(rng.integers(0, len(cells)))
    values = ["nan", "inf", "1e12", "-1e300", "abc", "①", "", "1e999", "99:99:99:99.999", "0x10"]
    if choice <= 2:
        cells[col] = values[int(rng.integers(0, len(values)))]
        lines[row] = ",".join(cells)
        return "\n".join(lines), f"cell{row},{col}={cells[col]!r}"
    if choice == 3:
        lines[row] = ",".join(cells[:-1])
        return "\n".join(lines), "short-row"
    if choice == 4:
        header = lines[0].split(",")
        header[int(rng.integers(0, len(header)))] = "①" * 3
        lines[0] = ",".join(header)
        return "\n".join(lines), "header-unicode"
    if choice == 5:
        return "\n".join(lines[:1]), "header-only"
    return lines[0] + "\n" + "x" * 200_000, "long-field"


# --- PLY ------------------------------------------------------------------------------------------


def mutate_ply(data: bytes, rng: Rng) -> tuple[bytes, str]:
    end = data.find(b"end_header\n")
    if end < 0 or rng.random() < 0.35:
        return byte_mutation(data, rng)
    header, body = data[: end + 11].decode("ascii"), data[end + 11 :]
    lines = header.splitlines()
    choice = int(rng.integers(0, 7))
    for i, line in enumerate(lines):
        if line.startswith("element vertex"):
            if choice == 0:
                lines[i] = "element vertex " + str(rng.choice(["1000000000000", "①", "-5", "0", "1e3"]))
            elif choice == 1:
                lines[i] = line + " extra"
    if choice == 2:
        lines = [
            line.replace("float", "double", 1) if line.startswith("property float x") else line
            for line in lines
        ]
    if choice == 3:
        lines = [("format ascii 1.0" if line.startswith("format") else line) for line in lines]
    if choice == 4:
        lines.insert(2, "comment " + "x" * 10_000)
    if choice == 5:
        lines = [line for line in lines if not line.startswith("property float f_rest_3")]
    if choice == 6:
        lines.insert(2, "weird header line " + "y" * 5000)
    return ("\n".join(lines) + "\n").encode("utf-8") + body, f"ply-header{choice}"


# --- pickles ---------------------------------------------------------------------------------------


def shared_reference_pickle(depth: int = 40) -> bytes:
    item: list = [1.0]
    for _ in range(depth):
        item = [item, item]
    return pickle.dumps({"v_template": item, "f": item, "weights": item}, protocol=2)


def allocation_pickle() -> bytes:
    """A pickle calling bytearray(10**12) (a REDUCE of an allowed builtin)."""
    return (
        b"\x80\x02}q\x00X\x01\x00\x00\x00xq\x01c__builtin__\nbytearray\nq\x02"
        b"\x8a\x06\x00\x10\xa5\xd4\xe8\x00\x85q\x03Rq\x04s."
    )


def deep_pickle(depth: int = 100_000) -> bytes:
    """{'f': [[[...]]]} nested ``depth`` lists deep (MARK ... LIST, repeated)."""
    return b"\x80\x02}X\x01\x00\x00\x00f" + b"(" * depth + b"l" * depth + b"s."


# --- special files and names ----------------------------------------------------------------------


def replace_with_special(path: Path, rng: Rng) -> str:
    """Put a FIFO, a link to /dev/zero, a folder, a link to nowhere or nothing at ``path``."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    choice = int(rng.integers(0, 5))
    if choice == 0:
        os.mkfifo(path)
        return "fifo"
    if choice == 1:
        path.symlink_to("/dev/zero")
        return "dev-zero"
    if choice == 2:
        path.mkdir()
        return "directory"
    if choice == 3:
        path.symlink_to(path.parent / "nowhere")
        return "dangling-link"
    return "missing"


def odd_name(path: Path, rng: Rng) -> Path:
    """The same file under a name with Unicode digits or undecodable bytes."""
    stem_choice = int(rng.integers(0, 3))
    if stem_choice == 0:
        name = "①" + path.suffix
    elif stem_choice == 1:
        name = os.fsdecode(b"clip\xff\xfe") + path.suffix
    else:
        name = "²³" + path.suffix
    target = path.with_name(name)
    path.rename(target)
    return target
