"""Load FLAME, SMPL-X and SMPL-H model files into a RigModel (numpy only, bpy-free, torch-free).

Reads FLAME 2020 ``generic_model.pkl`` / FLAME 2023 ``flame2023.pkl``, SMPL-X ``.npz`` / ``.pkl``
(neutral, male, female; the older files with 10 shape + 10 expression components too), SMPL-H
``.pkl`` and the AMASS-style SMPL-H ``model.npz``, and the free stand-ins written in those formats.
Pickles are read by ``safe_pickle`` (no chumpy, no scipy, no code run from the file).

Every problem with a file raises one ``ModelFileError`` whose message is one sentence naming the file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..untrusted import arrays as checked
from ..untrusted import files, reading
from ..untrusted.errors import InputError, describe
from ..untrusted.files import GIB
from .errors import ModelFileError
from .model import JOINT_NAMES, Family, RigModel
from .npz_reader import is_zip, read_npz
from .safe_pickle import ConversionError, UnsafePickleError, safe_loads, to_numpy_tree

FAMILY_LABELS: dict[str, str] = {"FLAME": "FLAME", "SMPLX": "SMPL-X", "SMPLH": "SMPL-H"}
# Joint counts of the models we recognise, to name what a file really is.
_JOINT_COUNTS: dict[int, str] = {5: "FLAME", 55: "SMPLX", 52: "SMPLH", 24: "SMPL", 16: "MANO"}
_OTHER_LABELS = {"SMPL": "SMPL", "MANO": "MANO"}
REQUIRED_KEYS = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")
# Where the expression components start in ``shapedirs`` for the usual layouts (as the smplx package).
_FULL_SHAPE = 300
MAX_MODEL_BYTES = 3 * GIB  # the official SMPL-X pickles are about 1 GiB


def family_label(family: str) -> str:
    return FAMILY_LABELS.get(family, _OTHER_LABELS.get(family, family))


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _model_error(path: Path) -> Any:
    return lambda _name, problem: ModelFileError(path, problem)


def _read_bytes(path: Path) -> bytes:
    with reading(path, _model_error(path)):
        data = files.read_bytes(path, MAX_MODEL_BYTES)
    if not data:
        raise ModelFileError(path, "is empty")
    return data


def _looks_like_pickle(data: bytes) -> bool:
    # Protocol 2+ starts with PROTO; protocol 0/1 pickles of a dict start with '(' or '}' or 'c'.
    return data[:1] == b"\x80" or data[:1] in (b"(", b"}", b"c", b"]")


def read_model_dict(path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """The file's top-level dictionary (chumpy/sparse converted to numpy) and its sha256."""
    p = Path(path)
    data = _read_bytes(p)
    sha = file_sha256(data)
    with reading(p, _model_error(p), "model"):
        raw = _parse(p, data)
    if not isinstance(raw, Mapping):
        raise ModelFileError(p, f"holds a {type(raw).__name__}, not the dictionary of arrays a body model is")
    try:
        with reading(p, _model_error(p), "model"):
            converted = to_numpy_tree(dict(raw))
    except ConversionError as exc:
        raise ModelFileError(p, f"holds {exc}") from exc
    return {str(k): v for k, v in converted.items()}, sha


def _parse(p: Path, data: bytes) -> Any:
    if is_zip(data):
        try:
            raw: Any = read_npz(data)
        except zipfile.BadZipFile as exc:
            raise ModelFileError(p, f"is not a readable .npz archive; it may be truncated ({exc})") from exc
        except UnsafePickleError as exc:
            raise ModelFileError(p, f"was refused: {exc}") from exc
        except InputError:
            raise
        except (ValueError, EOFError, OSError, pickle.UnpicklingError) as exc:
            raise ModelFileError(p, f"has a damaged array inside its .npz archive ({describe(exc)})") from exc
    elif _looks_like_pickle(data):
        try:
            raw = safe_loads(data)
        except UnsafePickleError as exc:
            raise ModelFileError(p, f"was refused: {exc}") from exc
        except EOFError as exc:
            raise ModelFileError(p, "is truncated (the pickle ends early)") from exc
        except pickle.UnpicklingError as exc:
            if "truncated" in str(exc):
                raise ModelFileError(p, "is truncated (the pickle ends early)") from exc
            raise ModelFileError(p, f"is not a readable pickle ({describe(exc)})") from exc
        except (ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
            raise ModelFileError(p, f"is a damaged pickle ({describe(exc)})") from exc
    else:
        raise ModelFileError(p, "is neither a NumPy .npz archive nor a Python pickle")
    return raw


def _joint_count(arrays: Mapping[str, Any]) -> int | None:
    for key, axis in (("kintree_table", 1), ("weights", 1), ("J_regressor", 0)):
        value = arrays.get(key)
        if isinstance(value, np.ndarray) and value.ndim == 2:
            return int(value.shape[axis])
    return None


def detect_family(arrays: Mapping[str, Any]) -> str | None:
    """'FLAME', 'SMPLX', 'SMPLH', or 'SMPL'/'MANO' (recognised but not supported), from the joint count."""
    count = _joint_count(arrays)
    return _JOINT_COUNTS.get(count) if count is not None else None


def _describe(arrays: Mapping[str, Any]) -> str:
    joints = _joint_count(arrays)
    v = arrays.get("v_template")
    parts = []
    if joints is not None:
        parts.append(f"{joints} joints")
    if isinstance(v, np.ndarray) and v.ndim == 2:
        parts.append(f"{v.shape[0]} vertices")
    return ", ".join(parts)


def _array(p: Path, arrays: Mapping[str, Any], key: str, *, dtype: Any = np.float64) -> np.ndarray:
    """The array under ``key`` as ``dtype`` (None: any floating type as stored), checked finite."""
    with reading(p, _model_error(p)):
        return checked.float_array(arrays[key], key, dtype=dtype)


def _shape_error(p: Path, key: str, got: tuple[int, ...], expected: str) -> ModelFileError:
    return ModelFileError(p, f"has '{key}' of shape {got} where {expected} was expected")


def _pose_dirs(p: Path, posedirs: np.ndarray, num_vertices: int, num_features: int) -> np.ndarray:
    """(V,3,P), or flattened (3V,P) / (P,3V) -> (V,3,P)."""
    v3 = 3 * num_vertices
    if posedirs.shape == (num_vertices, 3, num_features):
        return posedirs
    if posedirs.shape == (v3, num_features):
        return posedirs.reshape(num_vertices, 3, num_features)
    if posedirs.shape == (num_features, v3):
        return posedirs.T.reshape(num_vertices, 3, num_features)
    raise _shape_error(
        p, "posedirs", posedirs.shape, f"({num_vertices}, 3, {num_features}) for {num_vertices} vertices"
    )


def _trim_zero_columns(basis: np.ndarray) -> np.ndarray:
    """Drop trailing all-zero components (the stand-ins pad their bases to the official sizes)."""
    if basis.shape[2] == 0:
        return basis
    nonzero = np.flatnonzero(np.any(basis.reshape(-1, basis.shape[2]) != 0.0, axis=0))
    keep = int(nonzero[-1]) + 1 if nonzero.size else 0
    return basis[:, :, :keep]


def _split_shape_expression(family: str, shapedirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Identity and expression bases in the layouts the smplx package reads.

    FLAME and SMPL-X with 400 components: 300 shape then 100 expression. SMPL-X with fewer (the
    older files): 10 shape then 10 expression. SMPL-H: all shape.
    """
    k = shapedirs.shape[2]
    if family == "SMPLH":
        return shapedirs, shapedirs[:, :, :0]
    if family == "FLAME":
        split = min(k, _FULL_SHAPE)
        return shapedirs[:, :, :split], shapedirs[:, :, split:]
    if k >= _FULL_SHAPE + 100:
        return shapedirs[:, :, :_FULL_SHAPE], shapedirs[:, :, _FULL_SHAPE:]
    return shapedirs[:, :, : min(k, 10)], shapedirs[:, :, 10 : min(k, 20)]


def _gender(arrays: Mapping[str, Any], p: Path) -> str:
    value = arrays.get("gender")
    if isinstance(value, np.ndarray) and value.dtype.kind in "US" and value.size == 1:
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("latin1")
    if isinstance(value, str) and value.lower() in ("male", "female", "neutral"):
        return value.lower()
    # Official names: SMPLX_FEMALE.npz, SMPLH_male.pkl, smplh/female/model.npz, generic_model.pkl.
    for text in (p.stem.lower(), p.parent.name.lower()):
        for gender in ("female", "male", "neutral"):
            if gender in text.replace("-", "_").split("_") or text == gender or text.endswith(gender):
                return gender
    return "neutral"


def _names(arrays: Mapping[str, Any], key: str, p: Path) -> tuple[str, ...]:
    value = arrays.get(key)
    if value is None:
        return ()
    if isinstance(value, np.ndarray):
        value = value.reshape(-1).tolist() if value.ndim <= 1 else None
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ModelFileError(p, f"has a '{key}' that is not a list of names")
    if len(value) > 100_000 or any(not isinstance(item, str | bytes) for item in value):
        raise ModelFileError(p, f"has a '{key}' that is not a list of names")
    return tuple(item.decode("latin1") if isinstance(item, bytes) else item for item in value)


_EXTRA_KEYS = (
    "J",
    "vt",
    "ft",
    "lmk_faces_idx",
    "lmk_bary_coords",
    "dynamic_lmk_faces_idx",
    "dynamic_lmk_bary_coords",
)


def model_from_dict(
    arrays: Mapping[str, Any],
    path: str | os.PathLike[str],
    family: str | None = None,
    sha256: str = "",
) -> RigModel:
    """Validate a model dictionary (already numpy) and build the RigModel."""
    p = Path(path)
    detected = detect_family(arrays)
    if family is not None:
        family = family.upper().replace("-", "")
        if family not in JOINT_NAMES:
            raise ValueError(f"Unknown rig family {family!r}; expected FLAME, SMPLX or SMPLH.")
        if detected is not None and detected != family:
            raise ModelFileError(
                p,
                f"is a {family_label(detected)} model ({_describe(arrays)}), "
                f"not a {family_label(family)} model",
            )
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        what = family_label(family or detected or "body")
        listed = ", ".join(f"'{k}'" for k in missing)
        raise ModelFileError(p, f"lacks {listed}, which every {what} model file has")
    if detected is None:
        raise ModelFileError(
            p, f"has {_describe(arrays) or 'no joints'}; FLAME has 5, SMPL-X 55 and SMPL-H 52 joints"
        )
    if detected not in JOINT_NAMES:
        raise ModelFileError(
            p,
            f"is a {family_label(detected)} model ({_describe(arrays)}); "
            "this add-on reads FLAME, SMPL-X and SMPL-H",
        )
    fam: Family = detected  # type: ignore[assignment]
    names = JOINT_NAMES[fam]
    num_joints = len(names)

    v_template = _array(p, arrays, "v_template")
    if v_template.ndim != 2 or v_template.shape[1] != 3 or v_template.shape[0] < 3:
        raise _shape_error(p, "v_template", v_template.shape, "(V, 3)")
    nv = v_template.shape[0]

    with reading(p, _model_error(p)):
        faces = checked.int_array(arrays["f"], "f")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise _shape_error(p, "f", faces.shape, "(F, 3) vertex indices")
    if faces.size and (faces.min() < 0 or faces.max() >= nv):
        raise ModelFileError(p, f"has faces ('f') that index vertex {int(faces.max())} of only {nv} vertices")

    with reading(p, _model_error(p)):
        kintree = checked.int_array(arrays["kintree_table"], "kintree_table")
    if kintree.shape != (2, num_joints):
        raise _shape_error(p, "kintree_table", kintree.shape, f"(2, {num_joints})")
    parents = kintree[0].astype(np.int64)
    parents[0] = -1  # stored as 2**32 - 1 in the official files
    if not np.all(kintree[1].astype(np.int64) == np.arange(num_joints)):
        raise ModelFileError(p, "has a 'kintree_table' whose second row is not the joints in order")
    if np.any(parents[1:] < 0) or np.any(parents[1:] >= np.arange(1, num_joints)):
        raise ModelFileError(p, "has a 'kintree_table' where a joint comes before its parent")

    weights = _array(p, arrays, "weights")
    if weights.shape != (nv, num_joints):
        raise _shape_error(p, "weights", weights.shape, f"({nv}, {num_joints})")
    sums = weights.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > 1e-3):
        bad = int(np.argmax(np.abs(sums - 1.0)))
        raise ModelFileError(
            p, f"has skinning 'weights' that do not sum to 1 (vertex {bad}: {sums[bad]:.4f})"
        )

    regressor = _array(p, arrays, "J_regressor")
    if regressor.shape != (num_joints, nv):
        raise _shape_error(p, "J_regressor", regressor.shape, f"({num_joints}, {nv})")

    # Kept in the stored precision until the zero padding is cut (the stand-ins pad to 400).
    shapedirs = _array(p, arrays, "shapedirs", dtype=None)
    if shapedirs.ndim == 2 and shapedirs.shape[0] == nv * 3:
        shapedirs = shapedirs.reshape(nv, 3, -1)
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (nv, 3):
        raise _shape_error(p, "shapedirs", shapedirs.shape, f"({nv}, 3, K)")
    shape_dirs, expr_dirs = _split_shape_expression(fam, shapedirs)
    shape_dirs = _trim_zero_columns(shape_dirs).astype(np.float64)
    expr_dirs = _trim_zero_columns(expr_dirs).astype(np.float64)

    num_features = 9 * (num_joints - 1)
    pose_dirs = _pose_dirs(p, _array(p, arrays, "posedirs"), nv, num_features)

    hands: dict[str, np.ndarray | None] = {}
    for side in ("l", "r"):
        comps = arrays.get(f"hands_components{side}")
        mean = arrays.get(f"hands_mean{side}")
        if fam == "FLAME" or comps is None:
            hands[f"components_{side}"] = None
        else:
            comps = _array(p, arrays, f"hands_components{side}")
            if comps.ndim != 2 or comps.shape[1] != 45 or comps.shape[0] > 45:
                raise _shape_error(p, f"hands_components{side}", comps.shape, "(N<=45, 45)")
            hands[f"components_{side}"] = comps
        if fam == "FLAME" or mean is None:
            hands[f"mean_{side}"] = None
        else:
            mean = _array(p, arrays, f"hands_mean{side}").reshape(-1)
            if mean.shape != (45,):
                raise _shape_error(p, f"hands_mean{side}", mean.shape, "(45,)")
            hands[f"mean_{side}"] = mean

    expression_names = _names(arrays, "expression_names", p)
    if expression_names and len(expression_names) < expr_dirs.shape[2]:
        raise ModelFileError(
            p, f"names {len(expression_names)} expressions but has {expr_dirs.shape[2]} expression components"
        )
    expression_names = expression_names[: expr_dirs.shape[2]]

    extras: dict[str, np.ndarray] = {}
    for key in _EXTRA_KEYS:
        value = arrays.get(key)
        if isinstance(value, np.ndarray) and value.dtype.kind in "iuf" and value.ndim >= 1:
            if value.dtype.kind != "f" or np.isfinite(value).all():
                extras[key] = value

    return RigModel(
        family=fam,
        v_template=v_template,
        faces=faces.astype(np.int32),
        shape_dirs=np.ascontiguousarray(shape_dirs),
        expr_dirs=np.ascontiguousarray(expr_dirs),
        pose_dirs=np.ascontiguousarray(pose_dirs),
        joint_regressor=regressor,
        weights=weights,
        parents=parents,
        joint_names=names,
        gender=_gender(arrays, p),
        hands_components_left=hands["components_l"],
        hands_components_right=hands["components_r"],
        hands_mean_left=hands["mean_l"],
        hands_mean_right=hands["mean_r"],
        expression_names=expression_names,
        source_name=p.name,
        source_sha256=sha256,
        extras=extras,
    )


def load_model(path: str | os.PathLike[str], family: str | None = None) -> RigModel:
    """Load a FLAME / SMPL-X / SMPL-H model file; the family is read from the contents.

    ``family`` ('FLAME', 'SMPLX', 'SMPLH'; 'SMPL-X' accepted) makes a file of another family an error.
    Raises ModelFileError (one sentence naming the file) for anything wrong with the file.
    """
    arrays, sha = read_model_dict(path)
    p = Path(path)
    # Anything a damaged model trips over below is still this file's fault: say so in its name.
    with reading(p, _model_error(p), "model"):
        return model_from_dict(arrays, path, family=family, sha256=sha)
