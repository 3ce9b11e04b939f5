"""Small generated rig model files in the real formats, for tests (no licensed data, no chumpy).

``model_arrays(family, ...)`` makes a random but valid model dictionary with the official keys; the
writers store it the ways the official files are stored: FLAME pickles with chumpy arrays and a
scipy.sparse joint regressor (written through stand-in classes registered under the ``chumpy`` /
``scipy.sparse.csc`` module paths, so neither package is needed), Python 2 style pickles, SMPL-X
.npz (with the object arrays the official file has) and .pkl, SMPL-H .pkl and AMASS-style .npz.
``broken_files(folder)`` writes the bad files the loader must refuse.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.rig.model import PARENTS

JOINTS = {"FLAME": 5, "SMPLX": 55, "SMPLH": 52, "SMPL": 24}


def model_arrays(
    family: str,
    *,
    num_vertices: int = 60,
    num_faces: int = 80,
    num_shape: int = 300,
    num_expression: int = 100,
    seed: int = 0,
    posedirs_layout: str = "vjp",
    scale: float = 1.0,
) -> dict[str, Any]:
    """A random valid model dictionary with the official keys of ``family`` (FLAME/SMPLX/SMPLH/SMPL).

    FLAME and SMPL-X keep shape and expression in one ``shapedirs`` (num_shape + num_expression
    components: use 300 + 100 or, for old SMPL-X, 10 + 10). posedirs_layout: 'vjp' (V,3,P), 'flat'
    (3V,P) or 'flat_t' (P,3V).
    """
    rng = np.random.default_rng(seed)
    nj = JOINTS[family]
    nv = num_vertices
    parents = list(PARENTS.get(family, (-1, *[max(0, (j - 1) // 2) for j in range(1, nj)])))
    if family == "SMPL":
        parents = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
    v_template = rng.normal(scale=0.2 * scale, size=(nv, 3))
    faces = np.stack([rng.choice(nv, size=3, replace=False) for _ in range(num_faces)]).astype(np.uint32)
    # Sparse-ish skinning: each vertex on two joints.
    weights = np.zeros((nv, nj))
    for v in range(nv):
        joints = rng.choice(nj, size=2, replace=False)
        w = rng.uniform(0.2, 1.0, size=2)
        weights[v, joints] = w / w.sum()
    regressor = np.zeros((nj, nv))
    for j in range(nj):
        verts = rng.choice(nv, size=6, replace=False)
        w = rng.uniform(0.1, 1.0, size=6)
        regressor[j, verts] = w / w.sum()
    total = num_shape + (num_expression if family in ("FLAME", "SMPLX") else 0)
    shapedirs = rng.normal(scale=0.01 * scale, size=(nv, 3, total))
    num_features = 9 * (nj - 1)
    posedirs = rng.normal(scale=0.01 * scale, size=(nv, 3, num_features))
    if posedirs_layout == "flat":
        posedirs = posedirs.reshape(nv * 3, num_features)
    elif posedirs_layout == "flat_t":
        posedirs = posedirs.reshape(nv * 3, num_features).T
    kintree = np.array([[2**32 - 1] + parents[1:], list(range(nj))], dtype=np.int64)
    out: dict[str, Any] = {
        "v_template": v_template,
        "f": faces,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": kintree,
        "J": regressor @ v_template,
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }
    if family in ("SMPLX", "SMPLH"):
        for side in ("l", "r"):
            q, _ = np.linalg.qr(rng.normal(size=(45, 45)))
            out[f"hands_components{side}"] = q
            out[f"hands_mean{side}"] = rng.normal(scale=0.1, size=45)
            out[f"hands_coeffs{side}"] = rng.normal(size=(4, 45))
    if family == "SMPLX":
        out["lmk_faces_idx"] = rng.choice(num_faces, size=51).astype(np.int64)
        bary = rng.uniform(size=(51, 3))
        out["lmk_bary_coords"] = bary / bary.sum(1, keepdims=True)
        out["dynamic_lmk_faces_idx"] = rng.choice(num_faces, size=(79, 17)).astype(np.int64)
        dbary = rng.uniform(size=(79, 17, 3))
        out["dynamic_lmk_bary_coords"] = dbary / dbary.sum(2, keepdims=True)
        out["vt"] = rng.uniform(size=(nv, 2))
        out["ft"] = faces.astype(np.int64)
        out["part2num"] = {"body": 0, "head": 1}
        out["joint2num"] = {"pelvis": 0, "left_hip": 1}
    return out


# ---------------------------------------------------------------------------------------------
# chumpy / scipy stand-in classes, registered under the real module paths while pickling


class _FakeCh:
    """Pickles like chumpy's Ch: a plain object whose state dict holds the array as 'x'."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = np.asarray(x, dtype=np.float64)

    def __getstate__(self) -> dict[str, Any]:
        return {"x": self.x, "_dirty_vars": set(), "_itr": None, "_depends_on_deps": {}, "_make_dense": False}


class _FakeChumpyAdd:
    """A chumpy operator node (an expression with no stored value)."""

    def __init__(self, a: _FakeCh, b: _FakeCh) -> None:
        self.a, self.b = a, b

    def __getstate__(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "_dirty_vars": set()}


class _FakeCscMatrix:
    """Pickles like an old scipy.sparse.csc_matrix: data/indices/indptr and the shape."""

    def __init__(self, dense: np.ndarray) -> None:
        dense = np.asarray(dense)
        rows, cols = np.nonzero(dense.T)  # column-major order: (col, row) pairs
        self.data = dense.T[rows, cols].astype(np.float64)
        self.indices = cols.astype(np.int32)
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=dense.shape[1]))]).astype(
            np.int32
        )
        self._shape = dense.shape
        self.maxprint = 50

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)


@contextlib.contextmanager
def _fake_modules() -> Iterator[None]:
    saved = {
        name: sys.modules.get(name) for name in ("chumpy", "chumpy.ch", "chumpy.ch_ops", "scipy.sparse.csc")
    }
    chumpy = types.ModuleType("chumpy")
    ch = types.ModuleType("chumpy.ch")
    ops = types.ModuleType("chumpy.ch_ops")
    csc = types.ModuleType("scipy.sparse.csc")
    for cls, module, name in (
        (_FakeCh, ch, "Ch"),
        (_FakeChumpyAdd, ops, "add"),
        (_FakeCscMatrix, csc, "csc_matrix"),
    ):
        cls.__module__, cls.__qualname__, cls.__name__ = module.__name__, name, name
        setattr(module, name, cls)
    sys.modules.update({"chumpy": chumpy, "chumpy.ch": ch, "chumpy.ch_ops": ops, "scipy.sparse.csc": csc})
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class _Python2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes str and bytes as Python 2 'str' (BINSTRING) opcodes, as cPickle did."""

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def _save_py2_str(self, obj: str | bytes) -> None:
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + len(raw).to_bytes(4, "little") + raw)
        self.memoize(obj)

    dispatch[str] = _save_py2_str
    dispatch[bytes] = _save_py2_str


def write_pickle(
    path: str | Path,
    arrays: dict[str, Any],
    *,
    chumpy_keys: tuple[str, ...] = (),
    sparse_keys: tuple[str, ...] = (),
    python2: bool = False,
    protocol: int = 2,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Pickle a model dictionary, wrapping ``chumpy_keys`` in chumpy Ch and ``sparse_keys`` in
    scipy.sparse.csc_matrix stand-ins. ``python2`` writes strings the way Python 2's cPickle did."""
    path = Path(path)
    with _fake_modules():
        data = dict(arrays)
        for key in chumpy_keys:
            data[key] = _FakeCh(data[key])
        for key in sparse_keys:
            data[key] = _FakeCscMatrix(data[key])
        data.update(extra or {})
        buffer = io.BytesIO()
        if python2:
            _Python2Pickler(buffer, protocol=2).dump(data)
        else:
            pickle.dump(data, buffer, protocol=protocol)
    path.write_bytes(buffer.getvalue())
    return path


def chumpy_expression(a: np.ndarray, b: np.ndarray) -> Any:
    """An unevaluated chumpy add node for a file the loader must refuse (pass it in extra=)."""
    return _FakeChumpyAdd(_FakeCh(a), _FakeCh(b))


def write_npz(path: str | Path, arrays: dict[str, Any], *, compressed: bool = True) -> Path:
    path = Path(path)
    data = {
        k: (np.array(v, dtype=object) if isinstance(v, dict) else np.asarray(v)) for k, v in arrays.items()
    }
    (np.savez_compressed if compressed else np.savez)(path, **data)
    return path


# ---------------------------------------------------------------------------------------------
# the usual files


def flame_2020_pickle(folder: Path, name: str = "generic_model.pkl", **kwargs: Any) -> Path:
    """FLAME 2020 layout: Python 2 pickle, chumpy v_template/shapedirs/J, sparse J_regressor."""
    arrays = model_arrays("FLAME", **kwargs)
    return write_pickle(
        folder / name,
        arrays,
        chumpy_keys=("v_template", "shapedirs", "J"),
        sparse_keys=("J_regressor",),
        python2=True,
    )


def flame_2023_pickle(folder: Path, name: str = "flame2023.pkl", **kwargs: Any) -> Path:
    """FLAME 2023 layout: plain numpy arrays and a sparse J_regressor, protocol 2."""
    arrays = model_arrays("FLAME", **kwargs)
    return write_pickle(folder / name, arrays, sparse_keys=("J_regressor",))


def smplx_npz(folder: Path, name: str = "SMPLX_NEUTRAL.npz", **kwargs: Any) -> Path:
    return write_npz(folder / name, model_arrays("SMPLX", **kwargs))


def smplx_pickle(folder: Path, name: str = "SMPLX_NEUTRAL.pkl", **kwargs: Any) -> Path:
    return write_pickle(folder / name, model_arrays("SMPLX", **kwargs), python2=True)


def smplh_pickle(folder: Path, name: str = "SMPLH_male.pkl", **kwargs: Any) -> Path:
    kwargs.setdefault("num_shape", 10)
    arrays = model_arrays("SMPLH", **kwargs)
    return write_pickle(
        folder / name,
        arrays,
        chumpy_keys=("v_template", "shapedirs"),
        sparse_keys=("J_regressor",),
        python2=True,
    )


def smplh_amass_npz(folder: Path, gender: str = "male", **kwargs: Any) -> Path:
    """AMASS's body model layout: smplh/<gender>/model.npz with 16 betas."""
    kwargs.setdefault("num_shape", 16)
    arrays = model_arrays("SMPLH", **kwargs)
    target = folder / "smplh" / gender
    target.mkdir(parents=True, exist_ok=True)
    return write_npz(target / "model.npz", arrays, compressed=False)


def broken_files(folder: Path) -> dict[str, Path]:
    """Files the loader must refuse, by what is wrong with them."""
    folder.mkdir(parents=True, exist_ok=True)
    good = model_arrays("FLAME")
    out: dict[str, Path] = {}
    full = flame_2023_pickle(folder, "full.pkl")
    raw = full.read_bytes()
    out["truncated_pickle"] = folder / "truncated.pkl"
    out["truncated_pickle"].write_bytes(raw[: len(raw) // 2])
    npz = smplx_npz(folder, "full.npz")
    out["truncated_npz"] = folder / "truncated.npz"
    out["truncated_npz"].write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    out["random_binary"] = folder / "random.pkl"
    out["random_binary"].write_bytes(np.random.default_rng(1).bytes(4096))
    out["empty"] = folder / "empty.pkl"
    out["empty"].write_bytes(b"")
    missing = dict(good)
    del missing["weights"]
    out["missing_keys"] = write_pickle(folder / "missing.pkl", missing)
    wrong = dict(good)
    wrong["weights"] = good["weights"][:, :4]
    out["wrong_shape"] = write_pickle(folder / "wrong_shape.pkl", wrong)
    wrong_posedirs = dict(good)
    wrong_posedirs["posedirs"] = good["posedirs"][:, :, :30]
    out["wrong_posedirs"] = write_pickle(folder / "wrong_posedirs.pkl", wrong_posedirs)
    bad_faces = dict(good)
    bad_faces["f"] = good["f"].copy()
    bad_faces["f"][0, 0] = 10_000
    out["bad_faces"] = write_pickle(folder / "bad_faces.pkl", bad_faces)
    nan = dict(good)
    nan["v_template"] = good["v_template"].copy()
    nan["v_template"][3, 1] = np.nan
    out["nan"] = write_pickle(folder / "nan.pkl", nan)
    out["smpl"] = write_pickle(folder / "basicModel_neutral.pkl", model_arrays("SMPL", num_shape=10))
    out["smplx_as_flame"] = smplx_npz(folder, "smplx_named_flame.npz")
    out["not_a_dict"] = folder / "list.pkl"
    out["not_a_dict"].write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    out["chumpy_expression"] = write_pickle(
        folder / "expression.pkl",
        good,
        extra={"v_template": chumpy_expression(good["v_template"], good["v_template"])},
    )
    return out


class _MakeFolder:
    """Unpickles to a call of os.mkdir: what a naive pickle.load would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.mkdir, (str(self.marker),))


def malicious_pickle(path: Path, marker: Path) -> Path:
    """A model-looking pickle that would create the folder ``marker`` if unpickled naively."""
    data = model_arrays("FLAME")
    data["v_template"] = _MakeFolder(marker)
    path.write_bytes(pickle.dumps(data, protocol=2))
    return path
