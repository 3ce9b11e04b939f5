"""The ``.gavatar`` avatar file (docs/DESIGN.md, "Avatar file"): one reader and one writer for the
trainer (which writes it) and the add-on (which reads it).

A zip archive, stored (not compressed: the arrays are floats that do not compress, and stored
members stream at disk speed), holding

    header.json              format, version, rig, sizes, trainer, metrics, background
    gaussians.ply            standard 3DGS PLY of the rest-pose world Gaussians (any viewer reads it)
    binding/parent_face.npy  (G,) int32
    binding/offset.npy       (G,3) float32, face units
    binding/rotation.npy     (G,4) float32, local quaternion w,x,y,z
    binding/log_scale.npy    (G,3) float32
    identity/<name>.npy      the rig identity: shape/betas, optional static_offset (V,3), ...
    dynamics/basis.npy       (G,K,14) float32   (only with dynamics)
    dynamics/mix.npy         (K,E+P) float32
    shading/matrix.npy       (G,3,3) float32    (only with normal shading, core/avatar/shading.py)
    shading/rest_normal.npy  (G,3) float32

Writes go to a temporary file beside the target and are renamed over it: a failure at any point
leaves the previous file untouched. Reads check the version and every count and value and raise
``AvatarFileError`` with one sentence that names the file.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.plain_json import plain

from ..untrusted import arrays as checked
from ..untrusted import json_text, reading
from ..untrusted.errors import InputError, display_path, short
from ..untrusted.files import GIB, MIB, open_regular
from ..untrusted.npz import NpyHeader, read_member, read_member_bytes
from .atomic import atomic_write
from .binding import DYN_CHANNELS, Binding, BindingError, Dynamics
from .gaussians import GaussianSet
from .ply import PlyError, read_ply, write_ply_to
from .range_stats import HEADER_KEY as RANGE_KEY
from .range_stats import RangeStats, RangeStatsError
from .shading import Shading

FORMAT_NAME = "gaussian-avatar"
FORMAT_VERSION = 3  # 2: optional header "range_statistics"; 3: optional normal shading (shading.py)
RIG_FAMILIES = ("FLAME", "SMPLX", "SMPLH")
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_BINDING_FIELDS = ("parent_face", "offset", "rotation", "log_scale")
MAX_FILE_BYTES = 16 * GIB
MAX_HEADER_BYTES = 16 * MIB
MAX_GAUSSIANS = 50_000_000
MAX_RANK = 4096  # dynamics components
MAX_FEATURES = 100_000  # expression coefficients + pose features
MAX_IDENTITY_VALUE = 1e6  # shape coefficients and offsets in metres: beyond is a damaged file
SHADING_KIND = "normal_linear"  # the one kind there is: SH DC + S (n - n_rest), core/avatar/shading.py


class AvatarFileError(ValueError):
    """An avatar file that cannot be read or written; the message is one sentence naming the file."""


@dataclass(eq=False)
class Avatar:
    """Everything a ``.gavatar`` file holds.

    ``header`` carries ``rig`` (family, model_name, model_sha256, num_vertices, num_faces),
    ``trainer``, ``metrics``, ``background`` and any extra keys; the writer fills in ``format``,
    ``version``, ``num_gaussians``, ``sh_degree``, ``dynamics`` and ``identity`` from the arrays.
    ``gaussians`` are the rest-pose world Gaussians; their opacity and SH are the avatar's, their
    means/rotations/scales are the binding evaluated on the rest mesh.
    """

    header: dict[str, Any]
    binding: Binding
    gaussians: GaussianSet
    identity: dict[str, np.ndarray] = field(default_factory=dict)
    dynamics: Dynamics | None = None
    shading: Shading | None = None

    def __len__(self) -> int:
        return len(self.binding)

    @property
    def rig_family(self) -> str:
        return str(self.header.get("rig", {}).get("family", ""))

    @property
    def range_stats(self) -> RangeStats | None:
        """The training range of the driving values (version 2 files that carry it), else None:
        older files and avatars from other sources have no range guard."""
        data = self.header.get(RANGE_KEY)
        return None if data is None else RangeStats.from_header(data)

    @property
    def background(self) -> tuple[float, float, float]:
        bg = self.header.get("background", (1.0, 1.0, 1.0))
        return (float(bg[0]), float(bg[1]), float(bg[2]))

    def check_rig(
        self,
        family: str,
        *,
        num_vertices: int | None = None,
        num_faces: int | None = None,
        model_sha256: str | None = None,
        label: str = "the avatar",
    ) -> None:
        """Raise ``AvatarFileError`` when this avatar does not fit a rig (family, mesh size, model
        checksum when both sides know it)."""
        rig = self.header.get("rig", {})
        if self.rig_family != family:
            raise AvatarFileError(f"{label} was trained for a {self.rig_family} rig, not {family}")
        for key, value in (("num_vertices", num_vertices), ("num_faces", num_faces)):
            known = rig.get(key)
            if value is not None and known is not None and int(known) != int(value):
                noun = key.split("_")[1]
                raise AvatarFileError(
                    f"{label} was trained on a mesh with {known} {noun}, this rig has {value}"
                )
        known_sha = rig.get("model_sha256")
        if model_sha256 and known_sha and model_sha256 != known_sha:
            raise AvatarFileError(
                f"{label} was trained with another {family} model file ({rig.get('model_name', 'unknown')})"
            )
        if num_faces is not None:
            _check_binding(self.binding, num_faces, label)

    def sorted_by_face(self) -> Avatar:
        """The same avatar with its Gaussians grouped by parent face (stable). Deforming then reads
        the per-face table in order, which is faster on the CPU; the order has no other meaning."""
        order = np.argsort(self.binding.parent_face, kind="stable")
        binding = Binding(*(getattr(self.binding, name)[order] for name in _BINDING_FIELDS))
        dynamics = None
        if self.dynamics is not None:
            d = self.dynamics
            dynamics = Dynamics(d.basis[order], d.mix, d.num_expression, d.num_pose_features)
        shading = None if self.shading is None else self.shading.subset(order)
        return Avatar(
            dict(self.header), binding, self.gaussians.subset(order), dict(self.identity), dynamics, shading
        )


def _check_binding(binding: Binding, num_faces: int | None, label: str) -> None:
    try:
        binding.check(num_faces)
    except BindingError as exc:
        raise AvatarFileError(f"{label}: {exc}") from None


def _validate(avatar: Avatar, label: str) -> None:
    """Everything that must hold between the parts; raises AvatarFileError."""
    g = len(avatar.binding)
    if len(avatar.gaussians) != g:
        raise AvatarFileError(
            f"{label} has {len(avatar.gaussians)} Gaussians in its PLY but {g} in its binding"
        )
    rig = avatar.header.get("rig")
    if not isinstance(rig, dict) or rig.get("family") not in RIG_FAMILIES:
        family = rig.get("family") if isinstance(rig, dict) else None
        raise AvatarFileError(
            f"{label} names no known rig family ({family!r}; expected one of {', '.join(RIG_FAMILIES)})"
        )
    num_faces = rig.get("num_faces")
    _check_binding(avatar.binding, None if num_faces is None else int(num_faces), label)
    problem = avatar.gaussians.nonfinite_report()
    if problem:
        raise AvatarFileError(f"{label} has {problem}")
    if avatar.dynamics is not None:
        d = avatar.dynamics
        if len(d) != g:
            raise AvatarFileError(f"{label} has dynamics for {len(d)} Gaussians but {g} Gaussians")
        if not (np.isfinite(d.basis).all() and np.isfinite(d.mix).all()):
            raise AvatarFileError(f"{label} has NaN or infinite values in its dynamics")
    if avatar.shading is not None:
        if len(avatar.shading) != g:
            raise AvatarFileError(
                f"{label} has shading for {len(avatar.shading)} Gaussians but {g} Gaussians"
            )
        if not avatar.shading.is_finite():
            raise AvatarFileError(f"{label} has NaN or infinite values in its shading")
    if avatar.header.get(RANGE_KEY) is not None:
        try:
            stats = RangeStats.from_header(avatar.header[RANGE_KEY])
        except RangeStatsError as exc:
            raise AvatarFileError(f"{label} has unusable {exc}") from None
        if avatar.dynamics is not None:
            try:
                stats.features(avatar.dynamics.num_expression, avatar.dynamics.num_pose_features)
            except RangeStatsError as exc:
                raise AvatarFileError(
                    f"{label} has range statistics that do not fit its dynamics: {exc}"
                ) from None
    for name, value in avatar.identity.items():
        if not _NAME.match(name):
            raise AvatarFileError(f"{label} has an identity entry with an unusable name {name!r}")
        if not np.isfinite(np.asarray(value, dtype=np.float64)).all():
            raise AvatarFileError(f"{label} has NaN or infinite values in identity '{name}'")


def _full_header(avatar: Avatar) -> dict[str, Any]:
    header = dict(avatar.header)
    header["format"] = FORMAT_NAME
    header["version"] = FORMAT_VERSION
    header["num_gaussians"] = len(avatar.binding)
    header["sh_degree"] = avatar.gaussians.sh_degree
    header["identity"] = {name: list(np.shape(v)) for name, v in avatar.identity.items()}
    d = avatar.dynamics
    header["dynamics"] = (
        None
        if d is None
        else {"rank": d.rank, "num_expression": d.num_expression, "num_pose_features": d.num_pose_features}
    )
    header["shading"] = None if avatar.shading is None else {"kind": SHADING_KIND}
    header.setdefault("background", [1.0, 1.0, 1.0])
    return header


def _write_npy(archive: zipfile.ZipFile, name: str, array: np.ndarray, dtype: type = np.float32) -> None:
    with archive.open(name, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, np.ascontiguousarray(array, dtype=dtype), allow_pickle=False)


def write_avatar(path: str | os.PathLike[str], avatar: Avatar) -> None:
    """Validate and write ``avatar`` to ``path`` atomically (temporary file + rename)."""
    label = str(path)
    _validate(avatar, f"refusing to write {label}: the avatar")
    header = _full_header(avatar)
    with (
        atomic_write(path) as handle,
        zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as zf,
    ):
        zf.writestr("header.json", json.dumps(header, indent=2, default=plain))
        with zf.open("gaussians.ply", "w", force_zip64=True) as member:
            write_ply_to(
                member, avatar.gaussians.astype(np.float32), comment="rest-pose Gaussians of a .gavatar"
            )
        b = avatar.binding
        _write_npy(zf, "binding/parent_face.npy", b.parent_face, np.int32)
        for name in _BINDING_FIELDS[1:]:
            _write_npy(zf, f"binding/{name}.npy", getattr(b, name))
        for name, value in avatar.identity.items():
            _write_npy(zf, f"identity/{name}.npy", np.asarray(value))
        if avatar.dynamics is not None:
            _write_npy(zf, "dynamics/basis.npy", avatar.dynamics.basis)
            _write_npy(zf, "dynamics/mix.npy", avatar.dynamics.mix)
        if avatar.shading is not None:
            _write_npy(zf, "shading/matrix.npy", avatar.shading.matrix)
            _write_npy(zf, "shading/rest_normal.npy", avatar.shading.rest_normal)


def write_avatar_file(
    path: str | os.PathLike[str],
    *,
    means: np.ndarray,
    quats: np.ndarray,
    log_scales: np.ndarray,
    opacity_logits: np.ndarray,
    sh: np.ndarray,
    parent_face: np.ndarray,
    offset: np.ndarray,
    rotation: np.ndarray,
    log_scale: np.ndarray,
    rig: dict[str, Any],
    identity: dict[str, np.ndarray] | None = None,
    dynamics: dict[str, Any] | None = None,
    shading: dict[str, np.ndarray] | None = None,
    **header: Any,
) -> None:
    """Keyword form of ``write_avatar`` (the trainer's export): arrays by name, ``dynamics`` as a
    dict of basis, mix, num_expression, num_pose_features, ``shading`` as a dict of matrix and
    rest_normal; other keywords (trainer, metrics, background, ...) go into the header."""
    try:
        binding = Binding(*(np.asarray(a) for a in (parent_face, offset, rotation, log_scale)))
        gaussians = GaussianSet(*(np.asarray(a) for a in (means, quats, log_scales, opacity_logits, sh)))
        dyn = None
        if dynamics is not None:
            dyn = Dynamics(
                np.asarray(dynamics["basis"]),
                np.asarray(dynamics["mix"]),
                int(dynamics["num_expression"]),
                int(dynamics["num_pose_features"]),
            )
        shade = None
        if shading is not None:
            shade = Shading(np.asarray(shading["matrix"]), np.asarray(shading["rest_normal"]))
        identity_arrays = {k: np.asarray(v) for k, v in (identity or {}).items()}
        avatar = Avatar({"rig": rig, **header}, binding, gaussians, identity_arrays, dyn, shade)
    except (ValueError, KeyError) as exc:
        raise AvatarFileError(f"refusing to write {path}: {exc}") from None
    write_avatar(path, avatar)


# --- reading --------------------------------------------------------------------------------------


def _error(label: str) -> Any:
    return lambda _name, problem: AvatarFileError(f"{label} {problem}")


def _read_npy(
    zf: zipfile.ZipFile, name: str, label: str, shape: tuple[int | None, ...] | None = None, kind: str = "f"
) -> np.ndarray:
    """One member, its header checked (numbers of ``kind``, ``shape`` where given) before its data
    is read; floats come back finite in float32 terms."""

    def check(header: NpyHeader) -> None:
        if kind == "i" and header.dtype.kind not in "iu":
            raise AvatarFileError(f"{label} has non-integer parent faces in {name[:-4]} ({header.dtype.str})")
        if header.dtype.kind not in "iuf":
            raise AvatarFileError(f"{label} has {name} of type {header.dtype.str}, not numbers")
        if shape is not None:
            fixed = zip(header.shape, shape, strict=False)
            if len(header.shape) != len(shape) or any(w is not None and g != w for g, w in fixed):
                got = short(header.shape, 40)
                raise AvatarFileError(f"{label} has {name[:-4]} of shape {got}, expected {shape}")

    with reading(label, _error(label)):
        try:
            array = read_member(zf, name, max_bytes=MAX_FILE_BYTES, check=check)
        except KeyError:
            raise AvatarFileError(f"{label} lacks {name}; it is incomplete") from None
        except InputError as exc:
            raise AvatarFileError(f"{label} has a damaged {name} (it {exc.problem})") from None
        if kind == "f" and np.isfinite(array).all():  # NaN is named by _validate, part by part
            array = checked.float_array(array, name[:-4], dtype=None)
    return np.asarray(array)


def _read_header(zf: zipfile.ZipFile, label: str) -> dict[str, Any]:
    with reading(label, _error(label)):
        try:
            raw = read_member_bytes(zf, "header.json", MAX_HEADER_BYTES)
        except KeyError:
            raise AvatarFileError(f"{label} has no header.json, so it is no Gaussian avatar file") from None
    try:
        header = json_text.load_bytes(raw)
    except InputError as exc:
        raise AvatarFileError(f"{label} has an unreadable header.json (it {exc.problem})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise AvatarFileError(
            f"{label} is not a Gaussian avatar file (its header names no '{FORMAT_NAME}' format)"
        )
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise AvatarFileError(f"{label} has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise AvatarFileError(
            f"{label} uses avatar format version {version}, newer than this version reads "
            f"({FORMAT_VERSION}); update the Gaussian Avatar extension"
        )
    with reading(label, _error(label)):
        _check_header_fields(header)
    return header


def _check_header_fields(header: dict[str, Any]) -> None:
    """The header's numbers and lists have the types and ranges the reader relies on."""
    header["num_gaussians"] = checked.integer(
        header.get("num_gaussians"), "num_gaussians", low=0, high=MAX_GAUSSIANS
    )
    header["sh_degree"] = checked.integer(header.get("sh_degree"), "sh_degree", low=0, high=4)
    background = header.get("background", [1.0, 1.0, 1.0])
    if not isinstance(background, list) or len(background) != 3:
        raise InputError(f"has a background of {short(background, 40)}, not three numbers")
    values = [checked.scalar(v, "background", low=0.0, high=1e4) for v in background]
    header["background"] = values
    rig = header.get("rig")
    if not isinstance(rig, dict):
        raise InputError("has a header without a 'rig' object")
    for key in ("num_vertices", "num_faces"):
        if rig.get(key) is not None:
            rig[key] = checked.integer(rig[key], f"rig {key}", low=0, high=100_000_000)
    for key in ("family", "model_name", "model_sha256"):
        if rig.get(key) is not None and not isinstance(rig[key], str):
            raise InputError(f"has a rig {key} that is not text")
    dyn = header.get("dynamics")
    if dyn:
        if not isinstance(dyn, dict):
            raise InputError("has dynamics sizes that are not an object")
        for key, high in (
            ("rank", MAX_RANK),
            ("num_expression", MAX_FEATURES),
            ("num_pose_features", MAX_FEATURES),
        ):
            if key not in dyn:
                raise InputError("has a header with incomplete dynamics sizes")
            dyn[key] = checked.integer(dyn[key], f"dynamics {key}", low=0, high=high)


def _expect_shape(array: np.ndarray, shape: tuple[int, ...], name: str, label: str) -> None:
    if array.shape != shape:
        raise AvatarFileError(f"{label} has {name} of shape {array.shape}, expected {shape}")


def read_avatar(path: str | os.PathLike[str], *, num_faces: int | None = None) -> Avatar:
    """Read and validate a ``.gavatar``. ``num_faces`` (the scene rig's face count, when known) is
    checked against the binding as well as the header's own count."""
    label = display_path(path)
    p = Path(path)
    with reading(p, _error(label), "Gaussian avatar"):
        with open_regular(p, MAX_FILE_BYTES) as handle:
            try:
                archive = zipfile.ZipFile(handle, "r")
            except zipfile.BadZipFile:
                raise InputError("is not a Gaussian avatar file or is damaged (not a zip archive)") from None
            with archive as zf:
                return _read_archive(zf, label, num_faces)


def _read_archive(zf: zipfile.ZipFile, label: str, num_faces: int | None) -> Avatar:
    header = _read_header(zf, label)
    g = int(header["num_gaussians"])
    sh_degree = int(header["sh_degree"])
    try:
        info = zf.getinfo("gaussians.ply")
        if info.file_size > MAX_FILE_BYTES or (
            info.compress_type != zipfile.ZIP_STORED and info.file_size > 1100 * max(info.compress_size, 1)
        ):
            raise AvatarFileError(f"{label} has a gaussians.ply whose size is not plausible")
        with zf.open(info) as member:
            gaussians = read_ply(member, name=f"{label}:gaussians.ply")
    except KeyError:
        raise AvatarFileError(f"{label} lacks gaussians.ply; it is incomplete") from None
    except PlyError as exc:
        raise AvatarFileError(str(exc)) from None
    if len(gaussians) != g or gaussians.sh_degree != sh_degree:
        raise AvatarFileError(
            f"{label} has {len(gaussians)} Gaussians of SH degree {gaussians.sh_degree} in its PLY, "
            f"its header says {g} of degree {sh_degree}"
        )
    shapes = {"parent_face": (g,), "offset": (g, 3), "rotation": (g, 4), "log_scale": (g, 3)}
    arrays = {
        name: _read_npy(zf, f"binding/{name}.npy", label, shape, "i" if name == "parent_face" else "f")
        for name, shape in shapes.items()
    }
    binding = Binding(**arrays)
    identity = {}
    names = sorted(n for n in zf.namelist() if n.startswith("identity/") and n.endswith(".npy"))
    for name in names[:64]:
        value = _read_npy(zf, name, label)
        if value.size == 0:
            raise AvatarFileError(f"{label} has an empty {name[:-4]}")
        with reading(label, _error(label)):
            checked.float_array(value, name[:-4], limit=MAX_IDENTITY_VALUE)
        identity[name[len("identity/") : -len(".npy")]] = value
    dynamics = None
    dyn = header.get("dynamics")
    if dyn:
        rank, num_e, num_p = int(dyn["rank"]), int(dyn["num_expression"]), int(dyn["num_pose_features"])
        basis = _read_npy(zf, "dynamics/basis.npy", label, (g, rank, DYN_CHANNELS))
        mix = _read_npy(zf, "dynamics/mix.npy", label, (rank, num_e + num_p))
        dynamics = Dynamics(basis, mix, num_e, num_p)
    shading = None
    kind = header.get("shading")
    if kind:
        if not isinstance(kind, dict) or kind.get("kind") != SHADING_KIND:
            raise AvatarFileError(f"{label} has shading of an unknown kind {kind!r}; update the extension")
        matrix = _read_npy(zf, "shading/matrix.npy", label, (g, 3, 3))
        rest_normal = _read_npy(zf, "shading/rest_normal.npy", label, (g, 3))
        shading = Shading(matrix, rest_normal)
    avatar = Avatar(header, binding, gaussians, identity, dynamics, shading)
    with reading(label, _error(label)):
        _validate(avatar, label)
    if num_faces is not None:
        _check_binding(binding, num_faces, label)
    return avatar


read_avatar_file = read_avatar  # the trainer's name for it
