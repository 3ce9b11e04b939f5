"""Write stand-in model files atomically and byte-for-byte reproducibly."""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o644 & ~umask)  # mkstemp makes 0600 files; these are shared caches
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_flame_pickle(path: Path, arrays: dict[str, Any]) -> None:
    """A FLAME-format pickle: a dict of plain numpy arrays (no chumpy), protocol 2 as the originals,
    readable by ``pickle.load(f, encoding='latin1')`` and by core.rig.loaders."""
    _atomic_write(path, pickle.dumps(dict(arrays), protocol=2))


def write_npz_deterministic(path: Path, arrays: dict[str, Any]) -> None:
    """np.savez_compressed with fixed zip timestamps, so the same arrays give the same bytes.
    Dictionaries are stored as 0-d object arrays, as in the official SMPL-X .npz."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            if isinstance(value, dict):
                array = np.empty((), dtype=object)
                array[()] = value
            else:
                array = np.asarray(value)
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=array.dtype.hasobject)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    _atomic_write(path, buffer.getvalue())
