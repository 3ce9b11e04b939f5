"""Standard 3D Gaussian Splatting PLY files (the graphdeco convention every viewer reads).

One ``vertex`` element with float properties x, y, z, [nx, ny, nz], f_dc_0..2,
f_rest_0..M-1 (M = 3 * ((degree+1)^2 - 1), stored channel-major: all red coefficients, then
green, then blue), opacity (logit), scale_0..2 (log), rot_0..3 (w, x, y, z, unnormalised).

Written with numpy only: Blender's Python has no ``plyfile``, and a structured dtype read with
``np.fromfile`` handles a million Gaussians in a fraction of a second. Writes are binary
little-endian and atomic; reads accept binary little/big-endian and ascii.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from ..untrusted.errors import InputError, display_path, short
from ..untrusted.files import GIB, open_regular
from ..untrusted.names import ascii_number
from .atomic import atomic_write
from .gaussians import GaussianSet

_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
_FORMATS = {"binary_little_endian": "<", "binary_big_endian": ">", "ascii": "ascii"}
_MAX_HEADER_BYTES = 1 << 20
MAX_PLY_BYTES = 32 * GIB
_SH_REST_COUNTS = {0: 0, 9: 1, 24: 2, 45: 3}  # f_rest count -> SH degree
_REQUIRED = ("x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
             "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")  # fmt: skip


class PlyError(ValueError):
    """A PLY file that is not a readable 3DGS PLY; the message is one sentence naming the file."""


@dataclass(frozen=True)
class _Element:
    name: str
    count: int
    scalars: tuple[tuple[str, str], ...]  # (property name, numpy type code)
    has_lists: bool


@dataclass(frozen=True)
class PlyHeader:
    format: str  # "binary_little_endian", "binary_big_endian" or "ascii"
    elements: tuple[_Element, ...]
    data_offset: int  # bytes from the start of the PLY to its first data byte

    @property
    def vertex(self) -> _Element | None:
        return next((e for e in self.elements if e.name == "vertex"), None)


@dataclass(frozen=True)
class PlyInfo:
    """What a quick look at a 3DGS PLY header tells (for import dialogs)."""

    num_gaussians: int
    sh_degree: int
    format: str


def _parse_header(handle: IO[bytes], path: Path) -> PlyHeader:
    first_raw = handle.readline(64)
    consumed = len(first_raw)
    first = first_raw.strip()
    if first != b"ply":
        raise PlyError(f"{path} is not a PLY file (it does not start with 'ply')")
    fmt: str | None = None
    elements: list[_Element] = []
    current: dict | None = None

    def close_current() -> None:
        if current is not None:
            elements.append(
                _Element(current["name"], current["count"], tuple(current["scalars"]), current["lists"])
            )

    while True:
        raw = handle.readline(4096)
        consumed += len(raw)
        if not raw:
            raise PlyError(f"{path} ends inside its PLY header (no 'end_header' line)")
        if consumed > _MAX_HEADER_BYTES:
            raise PlyError(f"{path} has a PLY header over 1 MiB; it is not a Gaussian PLY")
        try:
            line = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise PlyError(f"{path} has non-ASCII bytes in its PLY header") from None
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        keyword = words[0]
        if keyword == "end_header":
            break
        if keyword == "format":
            if len(words) < 2 or words[1] not in _FORMATS:
                raise PlyError(f"{path} has an unsupported PLY format line '{short(line)}'")
            fmt = words[1]
        elif keyword == "element":
            close_current()
            count = ascii_number(words[2]) if len(words) == 3 else None
            if count is None:
                raise PlyError(f"{path} has a malformed PLY element line '{short(line)}'")
            current = {"name": words[1], "count": count, "scalars": [], "lists": False}
        elif keyword == "property":
            if current is None:
                raise PlyError(f"{path} has a PLY property before any element: '{short(line)}'")
            if len(words) == 5 and words[1] == "list":
                current["lists"] = True
            elif len(words) == 3 and words[1] in _PLY_TYPES:
                current["scalars"].append((words[2], _PLY_TYPES[words[1]]))
            else:
                raise PlyError(f"{path} has an unsupported PLY property line '{short(line)}'")
        else:
            raise PlyError(f"{path} has an unknown PLY header line '{short(line)}'")
    close_current()
    if fmt is None:
        raise PlyError(f"{path} has no PLY format line")
    return PlyHeader(fmt, tuple(elements), consumed)


def _vertex_layout(header: PlyHeader, path: Path) -> tuple[_Element, int, dict[str, int]]:
    """The vertex element, its SH degree, and each property's column index; clear errors."""
    names_all = {e.name for e in header.elements}
    if "chunk" in names_all and any(p == "packed_position" for e in header.elements for p, _ in e.scalars):
        raise PlyError(
            f"{path} is a compressed splat PLY (PlayCanvas/SuperSplat); decompress it to a standard "
            "3DGS PLY first"
        )
    vertex = header.vertex
    if vertex is None:
        raise PlyError(f"{path} has no 'vertex' element, so it holds no Gaussians")
    if vertex.count == 0:
        raise PlyError(f"{path} holds no Gaussians (its vertex count is 0)")
    if vertex.has_lists:
        raise PlyError(f"{path} has list properties in its vertex element; it is not a 3DGS PLY")
    columns = {name: i for i, (name, _) in enumerate(vertex.scalars)}
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        raise PlyError(
            f"{path} is not a 3DGS PLY: the vertex element lacks {', '.join(missing)}"
            + (" (it looks like a point cloud or mesh)" if "x" in columns else "")
        )
    numbers = (ascii_number(n[7:]) for n in columns if n.startswith("f_rest_"))
    rest = sorted(n for n in numbers if n is not None)
    if rest != list(range(len(rest))) or len(rest) not in _SH_REST_COUNTS:
        raise PlyError(
            f"{path} has {len(rest)} f_rest properties"
            + ("" if rest == list(range(len(rest))) else " with gaps in their numbering")
            + "; a 3DGS PLY has f_rest_0..N-1 with N = 0, 9, 24 or 45 (SH degree 0-3)"
        )
    return vertex, _SH_REST_COUNTS[len(rest)], columns


def read_ply_info(path: str | os.PathLike[str]) -> PlyInfo:
    """Header-only look at a 3DGS PLY: Gaussian count, SH degree, storage format."""
    path = Path(path)
    with _open(path) as handle:
        header = _parse_header(handle, path)
    vertex, degree, _ = _vertex_layout(header, path)
    return PlyInfo(vertex.count, degree, header.format)


def _open(path: Path) -> IO[bytes]:
    try:
        return open_regular(path, MAX_PLY_BYTES)
    except InputError as exc:
        raise PlyError(f"{display_path(path)} {exc.problem}") from None


def _is_real_file(handle: IO[bytes]) -> bool:
    try:
        handle.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _read_binary_vertices(handle: IO[bytes], header: PlyHeader, vertex: _Element, path: Path) -> np.ndarray:
    order = _FORMATS[header.format]
    offset = header.data_offset
    for element in header.elements:
        if element is vertex:
            break
        if element.has_lists:
            raise PlyError(
                f"{path} stores element '{element.name}' with list properties before the vertices; "
                "this PLY layout is not supported"
            )
        offset += element.count * np.dtype([(n, order + t) for n, t in element.scalars]).itemsize
    dtype = np.dtype([(name, order + code) for name, code in vertex.scalars])
    needed = offset + vertex.count * dtype.itemsize

    def truncated(size: int) -> PlyError:
        have = max(0, (size - offset) // dtype.itemsize)
        return PlyError(
            f"{path} is truncated: its header announces {vertex.count} Gaussians but the file holds "
            f"data for only {have} ({size} of {needed} bytes)"
        )

    if _is_real_file(handle):
        base = handle.tell() - header.data_offset  # where the PLY starts in the file
        size = os.fstat(handle.fileno()).st_size - base
        if size < needed:
            raise truncated(size)
        handle.seek(base + offset)
        data = np.fromfile(handle, dtype=dtype, count=vertex.count)
    else:  # a stream, e.g. a member of a .gavatar archive
        handle.read(offset - header.data_offset)
        raw = handle.read(needed - offset)
        if len(raw) < needed - offset:
            raise truncated(offset + len(raw))
        data = np.frombuffer(raw, dtype=dtype, count=vertex.count)
    if data.shape[0] != vertex.count:
        raise PlyError(f"{path} is truncated: read {data.shape[0]} of {vertex.count} Gaussians")
    codes = {code for _, code in vertex.scalars}
    if codes == {"f4"}:
        # Every property a float of one byte order: view the records as an (N, P) matrix.
        return data.view(order + "f4").reshape(vertex.count, len(vertex.scalars))
    matrix = np.empty((vertex.count, len(vertex.scalars)), dtype=np.float64)
    for i, (name, _) in enumerate(vertex.scalars):
        matrix[:, i] = data[name]
    return matrix


def _read_ascii_vertices(handle: IO[bytes], header: PlyHeader, vertex: _Element, path: Path) -> np.ndarray:
    lines = handle.read().splitlines()  # the handle stands right after the header
    start = 0
    for element in header.elements:
        if element is vertex:
            break
        start += element.count
    rows = lines[start : start + vertex.count]
    if len(rows) < vertex.count:
        raise PlyError(
            f"{path} is truncated: its header announces {vertex.count} Gaussians but only "
            f"{len(rows)} ascii rows follow"
        )
    width = len(vertex.scalars)
    tokens = b" ".join(rows).split()
    if len(tokens) != vertex.count * width:
        counts = [len(r.split()) for r in rows]
        bad = next(i for i, c in enumerate(counts) if c != width)
        raise PlyError(f"{path} has {counts[bad]} values in ascii vertex row {bad}, expected {width}")
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        raise PlyError(f"{path} has a non-numeric value among its ascii vertex rows") from None
    return values.reshape(vertex.count, width)


def read_ply(
    source: str | os.PathLike[str] | IO[bytes], *, allow_nonfinite: bool = False, name: str | None = None
) -> GaussianSet:
    """Read a 3DGS PLY (a path, or a binary stream positioned at its start, named ``name`` in
    messages) into float32 arrays. Raises ``PlyError`` with one clear sentence when it is not a
    readable Gaussian PLY (missing properties, wrong f_rest count, truncated data, NaN/inf values
    unless ``allow_nonfinite``, unsupported layout)."""
    return read_ply_with_extras(source, (), allow_nonfinite=allow_nonfinite, name=name)[0]


def read_ply_with_extras(
    source: str | os.PathLike[str] | IO[bytes],
    extras: tuple[str, ...],
    *,
    allow_nonfinite: bool = False,
    name: str | None = None,
) -> tuple[GaussianSet, dict[str, np.ndarray]]:
    """``read_ply`` plus extra per-Gaussian vertex properties by name (float64 arrays), such as the
    ``binding_0`` face index GaussianAvatars stores; a missing extra is a ``PlyError``."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        with _open(path) as handle:
            return _read_ply_handle(handle, path, allow_nonfinite, extras)
    return _read_ply_handle(source, Path(name or "<stream>"), allow_nonfinite, extras)


def _read_ply_handle(
    handle: IO[bytes], path: Path, allow_nonfinite: bool, extras: tuple[str, ...] = ()
) -> tuple[GaussianSet, dict[str, np.ndarray]]:
    header = _parse_header(handle, path)
    vertex, degree, columns = _vertex_layout(header, path)
    if header.format == "ascii":
        matrix = _read_ascii_vertices(handle, header, vertex, path)
    else:
        matrix = _read_binary_vertices(handle, header, vertex, path)

    def take(names: list[str]) -> np.ndarray:
        index = [columns[n] for n in names]
        if index == list(range(index[0], index[0] + len(index))):
            block = matrix[:, index[0] : index[0] + len(index)]  # the usual layout: a plain slice
        else:
            block = matrix[:, index]
        with np.errstate(over="ignore", invalid="ignore"):
            return np.array(block, dtype=np.float32, order="C")

    n = vertex.count
    k_rest = (degree + 1) ** 2 - 1
    sh = np.empty((n, k_rest + 1, 3), dtype=np.float32)
    sh[:, 0, :] = take(["f_dc_0", "f_dc_1", "f_dc_2"])
    if k_rest:
        rest = take([f"f_rest_{i}" for i in range(3 * k_rest)])
        sh[:, 1:, :] = rest.reshape(n, 3, k_rest).transpose(0, 2, 1)  # channel-major on disk
    gaussians = GaussianSet(
        means=take(["x", "y", "z"]),
        quats=take(["rot_0", "rot_1", "rot_2", "rot_3"]),
        log_scales=take(["scale_0", "scale_1", "scale_2"]),
        opacity_logits=take(["opacity"])[:, 0].copy(),
        sh=sh,
    )
    if not allow_nonfinite:
        # Checked in float32, as stored: a finite double above 3.4e38 is inf here.
        problem = gaussians.nonfinite_report()
        if problem:
            raise PlyError(f"{path} has {problem}")
    extra_values: dict[str, np.ndarray] = {}
    for extra in extras:
        if extra not in columns:
            raise PlyError(f"{path} has no vertex property '{extra}'")
        extra_values[extra] = np.array(matrix[:, columns[extra]], dtype=np.float64)
        if not allow_nonfinite and not np.isfinite(extra_values[extra]).all():
            raise PlyError(f"{path} has NaN or infinite values in '{extra}'")
    return gaussians, extra_values


def ply_property_names(sh_degree: int, *, normals: bool = True) -> list[str]:
    """The vertex properties, in file order, of a 3DGS PLY of the given SH degree."""
    k_rest = (sh_degree + 1) ** 2 - 1
    return (
        ["x", "y", "z"]
        + (["nx", "ny", "nz"] if normals else [])
        + ["f_dc_0", "f_dc_1", "f_dc_2"]
        + [f"f_rest_{i}" for i in range(3 * k_rest)]
        + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    )


def ply_bytes_header(
    num_gaussians: int, sh_degree: int, *, comment: str | None = None, extra_names: tuple[str, ...] = ()
) -> bytes:
    lines = ["ply", "format binary_little_endian 1.0"]
    if comment:
        lines += [f"comment {line}" for line in comment.splitlines()]
    lines.append(f"element vertex {num_gaussians}")
    lines += [f"property float {name}" for name in [*ply_property_names(sh_degree), *extra_names]]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def write_ply_to(
    handle: IO[bytes],
    gaussians: GaussianSet,
    *,
    comment: str | None = None,
    extras: dict[str, np.ndarray] | None = None,
) -> None:
    """Write the PLY bytes to an open binary handle (used inside other atomic writers). ``extras``:
    more per-Gaussian float properties appended after the standard ones (name -> (N,) values)."""
    n = len(gaussians)
    k = gaussians.sh.shape[1]
    extras = extras or {}
    for extra, values in extras.items():
        if (
            np.shape(values) != (n,)
            or extra in ply_property_names(gaussians.sh_degree)
            or not extra.isidentifier()
        ):
            raise PlyError(f"extra PLY property '{extra}' must be a new name with one value per Gaussian")
    names = ply_property_names(gaussians.sh_degree) + list(extras)
    matrix = np.zeros((n, len(names)), dtype="<f4")  # normals stay 0, as graphdeco writes them
    matrix[:, 0:3] = gaussians.means
    matrix[:, 6:9] = gaussians.sh[:, 0, :]
    col = 9
    if k > 1:
        matrix[:, col : col + 3 * (k - 1)] = gaussians.sh[:, 1:, :].transpose(0, 2, 1).reshape(n, -1)
        col += 3 * (k - 1)
    matrix[:, col] = gaussians.opacity_logits
    matrix[:, col + 1 : col + 4] = gaussians.log_scales
    matrix[:, col + 4 : col + 8] = gaussians.quats
    for i, values in enumerate(extras.values()):
        matrix[:, col + 8 + i] = values
    handle.write(ply_bytes_header(n, gaussians.sh_degree, comment=comment, extra_names=tuple(extras)))
    handle.write(matrix.data.cast("B"))  # the buffer itself, no copy


def write_ply(
    path: str | os.PathLike[str],
    gaussians: GaussianSet,
    *,
    comment: str | None = None,
    allow_nonfinite: bool = False,
    extras: dict[str, np.ndarray] | None = None,
) -> None:
    """Write a binary little-endian 3DGS PLY atomically (temporary file, then rename)."""
    if not allow_nonfinite:
        problem = gaussians.nonfinite_report()
        if problem:
            raise PlyError(f"refusing to write {path}: {problem}")
    with atomic_write(path) as handle:
        write_ply_to(handle, gaussians, comment=comment, extras=extras)
