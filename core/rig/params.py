"""Rig parameters: the datasets' parameter dictionaries <-> forward() inputs (numpy, bpy-free).

Dictionaries use the datasets' keys (docs/DESIGN.md):
- FLAME (GaussianAvatars / VHAP ``flame_param`` npz): ``shape, expr, rotation, neck_pose, jaw_pose,
  eyes_pose, translation`` and optional ``static_offset`` (1,V,3) / ``dynamic_offset`` (T,V,3);
  ``pose`` (15 = root, neck, jaw, eyes) is read in place of the four rotations.
- SMPL-X (``smpl_params.npz``): ``betas, global_orient, transl, body_pose, jaw_pose, leye_pose,
  reye_pose, left_hand_pose, right_hand_pose, expression``; AMASS's ``poses`` (165) / ``trans``
  are read too.
- SMPL-H: ``betas, global_orient, transl, body_pose, left_hand_pose, right_hand_pose``, or AMASS's
  ``poses`` (156) / ``trans``.

Hand poses are full axis-angle (15 joints x 3) relative to the flat hand: no PCA, no mean added.
A leading frame axis on the per-frame keys means a sequence; identity keys (``shape``, ``betas``)
carry no frame axis, or a leading axis of 1 (or identical rows). Missing keys mean zeros.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..avatar.atomic import atomic_write
from ..untrusted import InputError, reading
from ..untrusted.arrays import float_array as checked_float_array
from ..untrusted.files import GIB, open_regular
from ..untrusted.npz import read_npz
from .errors import ParamsError
from .lbs import RigOutput, forward
from .model import RigModel
from .npz_reader import is_zip


@dataclass(frozen=True)
class PoseSlot:
    """One pose key of a dictionary: which joints it sets, in order."""

    key: str
    joints: tuple[int, ...]

    @property
    def size(self) -> int:
        return 3 * len(self.joints)


def _slots(*items: tuple[str, range | tuple[int, ...]]) -> tuple[PoseSlot, ...]:
    return tuple(PoseSlot(key, tuple(joints)) for key, joints in items)


POSE_SLOTS: dict[str, tuple[PoseSlot, ...]] = {
    "FLAME": _slots(("rotation", (0,)), ("neck_pose", (1,)), ("jaw_pose", (2,)), ("eyes_pose", (3, 4))),
    "SMPLX": _slots(
        ("global_orient", (0,)),
        ("body_pose", range(1, 22)),
        ("jaw_pose", (22,)),
        ("leye_pose", (23,)),
        ("reye_pose", (24,)),
        ("left_hand_pose", range(25, 40)),
        ("right_hand_pose", range(40, 55)),
    ),
    "SMPLH": _slots(
        ("global_orient", (0,)),
        ("body_pose", range(1, 22)),
        ("left_hand_pose", range(22, 37)),
        ("right_hand_pose", range(37, 52)),
    ),
}
# Full pose vectors read in place of the slots (FLAME trackers' 'pose', AMASS's 'poses').
FULL_POSE_KEYS: dict[str, str] = {"FLAME": "pose", "SMPLX": "poses", "SMPLH": "poses"}
SHAPE_KEY: dict[str, str] = {"FLAME": "shape", "SMPLX": "betas", "SMPLH": "betas"}
EXPRESSION_KEY: dict[str, str | None] = {"FLAME": "expr", "SMPLX": "expression", "SMPLH": None}
TRANSL_KEY: dict[str, str] = {"FLAME": "translation", "SMPLX": "transl", "SMPLH": "transl"}
# Accepted spellings of the same thing (AMASS, smplx).
ALIASES: dict[str, dict[str, str]] = {
    "FLAME": {},
    "SMPLX": {"trans": "transl"},
    "SMPLH": {"trans": "transl"},
}


def parameter_keys(family: str) -> tuple[str, ...]:
    """The dataset keys of a family, in the order the datasets list them."""
    keys = [SHAPE_KEY[family]]
    expr = EXPRESSION_KEY[family]
    keys += [s.key for s in POSE_SLOTS[family]] + [TRANSL_KEY[family]]
    if expr:
        keys.append(expr)
    if family == "FLAME":
        keys += ["static_offset", "dynamic_offset"]
    return tuple(keys)


@dataclass(frozen=True)
class RigParams:
    """forward() inputs for T frames (T = 1 for a single frame).

    betas (S,) identity, shared by every frame; expression (T,E); pose (T,J,3) axis-angle per joint in
    the model's order; transl (T,3); vertex_offsets (T,V,3) or None (FLAME's static + dynamic offsets).
    Sizes follow the model. ``is_sequence`` says whether the source had a frame axis.
    """

    betas: np.ndarray
    expression: np.ndarray
    pose: np.ndarray
    transl: np.ndarray
    vertex_offsets: np.ndarray | None = None
    is_sequence: bool = False
    warnings: tuple[str, ...] = field(default=())

    @property
    def num_frames(self) -> int:
        return int(self.pose.shape[0])

    def frame(self, t: int) -> dict[str, Any]:
        """Keyword arguments of ``lbs.forward`` for frame t."""
        return {
            "betas": self.betas,
            "expression": self.expression[t],
            "pose": self.pose[t],
            "transl": self.transl[t],
            "vertex_offsets": None if self.vertex_offsets is None else self.vertex_offsets[t],
        }


def zero_params(model: RigModel, num_frames: int = 1, *, is_sequence: bool = False) -> RigParams:
    return RigParams(
        betas=np.zeros(model.num_shape),
        expression=np.zeros((num_frames, model.num_expression)),
        pose=np.zeros((num_frames, model.num_joints, 3)),
        transl=np.zeros((num_frames, 3)),
        is_sequence=is_sequence,
    )


def forward_params(model: RigModel, params: RigParams, t: int = 0) -> RigOutput:
    """The posed model at frame t."""
    return forward(model, **params.frame(t))


def forward_sequence(model: RigModel, params: RigParams) -> np.ndarray:
    """(T,V,3) posed vertices of every frame."""
    return np.stack([forward(model, **params.frame(t)).vertices for t in range(params.num_frames)])


# ---------------------------------------------------------------------------------------------
# dictionary -> RigParams


MAX_PARAM_VALUE = 1e4  # radians, metres and coefficients: beyond is damaged data (and inf in float32)


def _as_float(key: str, value: Any) -> np.ndarray:
    try:
        return checked_float_array(value, key, limit=MAX_PARAM_VALUE)
    except InputError as exc:
        if "non-finite" in exc.problem:
            raise ParamsError(f"Parameter '{key}' has non-finite values (NaN or infinity).") from None
        raise ParamsError(f"Parameter '{key}' {exc.problem}.") from None


def _frames(key: str, arr: np.ndarray, tails: tuple[tuple[int, ...], ...], meaning: str) -> np.ndarray | None:
    """(T, *tails[0]) for a sequence; None marks a single frame. Raises on any other shape."""
    for tail in tails:
        n = len(tail)
        if arr.shape == tail:
            return None
        if arr.ndim == n + 1 and arr.shape[1:] == tail:
            return arr.reshape((arr.shape[0],) + tails[0])
    wanted = " or ".join(str(t) for t in tails)
    raise ParamsError(
        f"Parameter '{key}' has shape {arr.shape}; expected {wanted} ({meaning}) for one frame, "
        "or a leading frame axis for a sequence."
    )


class _Collector:
    """Gathers per-frame arrays, checking that their frame counts agree."""

    def __init__(self) -> None:
        self.count: int | None = None
        self.count_key = ""
        self.sequence = False

    def add(
        self, key: str, frames: np.ndarray | None, single: np.ndarray, tail: tuple[int, ...]
    ) -> np.ndarray:
        """frames: (T, *tail) for a sequence, or None for a single frame given as ``single``."""
        if frames is None:
            return single.reshape((1,) + tail)
        self.sequence = True
        n = frames.shape[0]
        if n != 1:
            if self.count not in (None, n):
                raise ParamsError(
                    f"Parameter '{key}' has {n} frames but '{self.count_key}' has {self.count}."
                )
            self.count, self.count_key = n, key
        return frames

    def broadcast(self, key: str, arr: np.ndarray) -> np.ndarray:
        n = self.count or 1
        if arr.shape[0] == n:
            return arr
        return np.broadcast_to(arr, (n,) + arr.shape[1:]).copy()


def _fit_length(key: str, arr: np.ndarray, size: int, warnings: list[str]) -> np.ndarray:
    """Pad with zeros or drop trailing coefficients so the last axis has ``size`` values."""
    have = arr.shape[-1]
    if have == size:
        return arr
    if have < size:
        pad = np.zeros(arr.shape[:-1] + (size - have,))
        return np.concatenate([arr, pad], axis=-1)
    dropped = arr[..., size:]
    if np.any(np.abs(dropped) > 1e-8):
        warnings.append(f"'{key}' has {have} coefficients; the model uses {size}, the rest were dropped.")
    return arr[..., :size]


def _identity(key: str, arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 1:
        return arr
    if arr.ndim == 2 and arr.shape[0] >= 1:
        if not np.allclose(arr, arr[:1], atol=1e-8):
            raise ParamsError(
                f"Parameter '{key}' changes from frame to frame; the rig takes one identity per sequence."
            )
        return arr[0]
    raise ParamsError(f"Parameter '{key}' has shape {arr.shape}; expected (S,) or (1, S).")


def _family_of(model: RigModel, family: str | None) -> str:
    fam = (family or model.family).upper().replace("-", "")
    if fam != model.family:
        raise ParamsError(f"{fam} parameters cannot drive a {model.family} model.")
    return fam


def params_from_dict(model: RigModel, params: Mapping[str, Any], family: str | None = None) -> RigParams:
    """Map a dataset parameter dictionary (one frame or a sequence) to forward() inputs.

    Unknown keys are ignored; missing ones are zeros. Shape and expression vectors are padded or cut
    to the model's sizes (a warning is recorded when non-zero values are cut). Raises ParamsError.
    """
    fam = _family_of(model, family)
    aliases = ALIASES[fam]
    values = {aliases.get(k, k): v for k, v in params.items()}
    known = set(parameter_keys(fam)) | {FULL_POSE_KEYS[fam]}
    if not known & set(values):
        wanted = ", ".join(parameter_keys(fam))
        raise ParamsError(f"The dictionary has none of the {fam} parameter keys ({wanted}).")

    warnings: list[str] = []
    frames = _Collector()
    nj = model.num_joints

    full_key = FULL_POSE_KEYS[fam]
    slots = POSE_SLOTS[fam]
    pose_parts: list[tuple[tuple[int, ...], np.ndarray]] = []
    if full_key in values:
        clash = [s.key for s in slots if s.key in values]
        if clash:
            raise ParamsError(
                f"The dictionary has both '{full_key}' and '{clash[0]}'; give one or the other."
            )
        arr = _as_float(full_key, values[full_key])
        seq = _frames(full_key, arr, ((nj * 3,), (nj, 3)), f"axis-angle of {nj} joints")
        pose_parts.append((tuple(range(nj)), frames.add(full_key, seq, arr, (nj * 3,))))
    for slot in slots:
        if slot.key not in values:
            continue
        arr = _as_float(slot.key, values[slot.key])
        n = len(slot.joints)
        tails = ((slot.size,), (n, 3)) if n > 1 else ((3,),)
        seq = _frames(slot.key, arr, tails, f"axis-angle of {n} joint{'s' if n > 1 else ''}")
        pose_parts.append((slot.joints, frames.add(slot.key, seq, arr, (slot.size,))))

    transl_key = TRANSL_KEY[fam]
    transl = None
    if transl_key in values:
        arr = _as_float(transl_key, values[transl_key])
        transl = frames.add(transl_key, _frames(transl_key, arr, ((3,),), "a translation"), arr, (3,))

    expr_key = EXPRESSION_KEY[fam]
    expression = None
    if expr_key and expr_key in values:
        arr = _as_float(expr_key, values[expr_key])
        if arr.ndim not in (1, 2):
            raise ParamsError(f"Parameter '{expr_key}' has shape {arr.shape}; expected (E,) or (T, E).")
        expression = frames.add(expr_key, arr if arr.ndim == 2 else None, arr, arr.shape[-1:])
        expression = _fit_length(expr_key, expression, model.num_expression, warnings)

    offsets = None
    if fam == "FLAME":
        offsets = _flame_offsets(model, values, frames, warnings)

    shape_key = SHAPE_KEY[fam]
    betas = np.zeros(model.num_shape)
    if shape_key in values:
        arr = _identity(shape_key, _as_float(shape_key, values[shape_key]))
        betas = _fit_length(shape_key, arr, model.num_shape, warnings)

    count = frames.count or 1
    pose = np.zeros((count, nj, 3))
    for joints, arr in pose_parts:
        pose[:, list(joints), :] = frames.broadcast("pose", arr).reshape(count, len(joints), 3)
    return RigParams(
        betas=betas,
        expression=frames.broadcast(expr_key or "expression", expression)
        if expression is not None
        else np.zeros((count, model.num_expression)),
        pose=pose,
        transl=frames.broadcast(transl_key, transl) if transl is not None else np.zeros((count, 3)),
        vertex_offsets=frames.broadcast("offsets", offsets) if offsets is not None else None,
        is_sequence=frames.sequence,
        warnings=tuple(warnings),
    )


TEETH_VERTICES = 120  # GaussianAvatars' FLAME appends this many teeth vertices after FLAME's own


def _flame_offsets(
    model: RigModel, values: Mapping[str, Any], frames: _Collector, warnings: list[str]
) -> np.ndarray | None:
    """static_offset (1,V,3) plus per-frame dynamic_offset (T,V,3) -> (T or 1, V, 3).

    GaussianAvatars' FLAME appends 120 teeth vertices after FLAME's own: those are cut. Any other
    count is another mesh (say a real FLAME tracking given to the stand-in) and is refused.
    """
    nv = model.num_vertices
    total: np.ndarray | None = None
    for key in ("static_offset", "dynamic_offset"):
        if key not in values:
            continue
        arr = _as_float(key, values[key])
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ParamsError(f"Parameter '{key}' has shape {arr.shape}; expected (1, V, 3) or (T, V, 3).")
        if arr.shape[1] == nv + TEETH_VERTICES:
            warnings.append(
                f"'{key}' covers {arr.shape[1]} vertices; "
                f"the {TEETH_VERTICES} beyond the model's (GaussianAvatars' teeth) were cut."
            )
            arr = arr[:, :nv]
        elif arr.shape[1] != nv:
            raise ParamsError(
                f"Parameter '{key}' has offsets for {arr.shape[1]} vertices but the model has {nv} "
                f"(or {nv + TEETH_VERTICES} with GaussianAvatars' teeth); "
                "it was tracked with another FLAME mesh."
            )
        if key == "static_offset":
            if arr.shape[0] != 1:
                raise ParamsError(
                    f"Parameter 'static_offset' has {arr.shape[0]} frames; it is one offset per vertex."
                )
        else:
            arr = frames.add(key, arr, arr[0], arr.shape[1:])
        total = arr if total is None else total + arr
    return total


# ---------------------------------------------------------------------------------------------
# RigParams -> dictionary


def params_to_dict(
    model: RigModel,
    params: RigParams,
    *,
    sequence: bool | None = None,
    shape_size: int | None = None,
    expression_size: int | None = None,
) -> dict[str, np.ndarray]:
    """The dataset dictionary for ``params`` (float32 arrays, as the datasets store them).

    sequence: write a leading frame axis (default: as ``params.is_sequence``; several frames always do).
    shape_size / expression_size: pad (or cut) to these lengths, e.g. 300 / 100 for files that other
    FLAME tools read; default the model's own sizes.
    """
    fam = model.family
    count = params.num_frames
    seq = params.is_sequence if sequence is None else sequence
    if count > 1 and not seq:
        raise ParamsError(f"{count} frames need a leading frame axis (sequence=True).")
    if params.pose.shape != (count, model.num_joints, 3):
        raise ParamsError(
            f"pose has shape {params.pose.shape}; the model needs ({count}, {model.num_joints}, 3)."
        )
    warnings: list[str] = []

    def per_frame(arr: np.ndarray) -> np.ndarray:
        out = np.asarray(arr, dtype=np.float32)
        return out if seq else out[0]

    out: dict[str, np.ndarray] = {}
    betas = _fit_length(SHAPE_KEY[fam], params.betas, shape_size or model.num_shape, warnings)
    out[SHAPE_KEY[fam]] = betas.astype(np.float32)
    if fam != "FLAME" and seq:
        out[SHAPE_KEY[fam]] = out[SHAPE_KEY[fam]][None]  # smpl_params.npz keeps (1, S)
    for slot in POSE_SLOTS[fam]:
        out[slot.key] = per_frame(params.pose[:, list(slot.joints), :].reshape(count, slot.size))
    out[TRANSL_KEY[fam]] = per_frame(params.transl)
    expr_key = EXPRESSION_KEY[fam]
    if expr_key:
        size = expression_size or model.num_expression
        out[expr_key] = per_frame(_fit_length(expr_key, params.expression, size, warnings))
    if warnings:
        raise ParamsError(warnings[0])
    if fam == "FLAME" and params.vertex_offsets is not None:
        offsets = np.asarray(params.vertex_offsets, dtype=np.float32)
        if np.allclose(offsets, offsets[:1]):
            out["static_offset"] = offsets[:1]
        else:
            out["dynamic_offset"] = offsets
    return out


# ---------------------------------------------------------------------------------------------
# files


MAX_PARAMS_BYTES = 2 * GIB


def read_params_file(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The arrays of a parameter .npz (never unpickling anything). Raises ParamsError."""
    p = Path(path)
    with reading(p, lambda name, problem: ParamsError(f"Parameter file '{name}' {problem}."), ".npz"):
        with open_regular(p, MAX_PARAMS_BYTES) as handle:
            if not is_zip(handle.read(4)):
                raise InputError("is not a readable .npz archive (no zip header)")
        return read_npz(p, max_file_bytes=MAX_PARAMS_BYTES)


def write_params_file(path: str | os.PathLike[str], params: Mapping[str, np.ndarray]) -> Path:
    """Write an .npz atomically (temporary file in the same folder, then rename)."""
    p = Path(path)
    if p.suffix != ".npz":
        p = p.with_name(p.name + ".npz")
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(p) as handle:
        np.savez(handle, **{k: np.asarray(v) for k, v in params.items()})
    return p
