"""core/untrusted: special files, size bounds, npz headers before data, JSON depth, pickle blow-ups,
array conversion and file-name numbers, each refused with one sentence naming the file."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.rig.safe_pickle import ConversionError, safe_loads, to_numpy_tree
from core.untrusted import InputError, arrays, display_name, files, json_text, names, npz, numbers, reading


class _RefusedError(ValueError):
    pass


def _refusal(path: Path, call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(_RefusedError) as info, reading(path, lambda n, p: _RefusedError(f"'{n}' {p}.")):
        call()
    return str(info.value)


def test_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "clip.npz"
    os.mkfifo(fifo)
    assert "named pipe" in _refusal(fifo, lambda: files.read_bytes(fifo, 1000))
    zero = tmp_path / "model.pkl"
    zero.symlink_to("/dev/zero")
    assert "device" in _refusal(zero, lambda: files.read_bytes(zero, 1000))
    assert "folder" in _refusal(tmp_path, lambda: files.read_bytes(tmp_path, 1000))
    missing = tmp_path / "none.npz"
    assert _refusal(missing, lambda: files.read_bytes(missing, 10)) == "'none.npz' does not exist."


def test_size_is_bounded_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 5000)
    assert "more than" in _refusal(big, lambda: files.read_bytes(big, 4096))


def test_npz_member_shape_is_checked_before_inflating(tmp_path: Path) -> None:
    # A 1 KB compressed member that says it inflates to 64 MiB of zeros.
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, x=np.zeros((8 << 20,)))
    message = _refusal(path, lambda: npz.read_npz(path, max_member_bytes=1 << 20))
    assert "bomb.npz" in message and "inflates past" in message
    # A forged header: shape says 10^12 floats, the data is a few bytes.
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.zeros(4))
    header = buffer.getvalue().replace(b"'shape': (4,)", b"'shape': (10000000000000,)")
    forged = tmp_path / "forged.npz"
    with zipfile.ZipFile(forged, "w") as archive:
        archive.writestr("x.npy", header)
    assert "larger than such a file may hold" in _refusal(forged, lambda: npz.read_npz(forged))


def test_a_cut_npy_header_is_one_sentence(tmp_path: Path) -> None:
    # numpy reads the header's dict with the tokenizer: an unterminated one raises TokenError.
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.zeros((2, 17)))
    data = bytearray(buffer.getvalue())
    data[20:60] = b"(" * 40
    path = tmp_path / "poses_bounds.npy"
    path.write_bytes(bytes(data))
    with open(path, "rb") as stream:
        with pytest.raises(InputError, match="damaged header"):
            npz.read_npy_stream(stream, "poses_bounds.npy")


def test_llff_poses_are_checked_before_their_data_is_read(tmp_path: Path) -> None:
    from core.datasets import DatasetError
    from core.datasets.formats.llff_poses import read_poses_bounds
    from tests.fuzz.mutations import forged_npy

    path = tmp_path / "poses_bounds.npy"
    path.write_bytes(forged_npy((10**9, 17)))
    with pytest.raises(DatasetError, match="holds 1000000000 cameras"):
        read_poses_bounds(path)
    path.write_bytes(forged_npy((4, 17), "|O"))
    with pytest.raises(DatasetError, match="holds object values where numbers are due"):
        read_poses_bounds(path)
    np.save(path, np.zeros((3, 17), dtype=np.complex128))
    with pytest.raises(DatasetError, match="complex128 values"):
        read_poses_bounds(path)
    os.unlink(path)
    os.mkfifo(path)
    with pytest.raises(DatasetError, match="named pipe"):
        read_poses_bounds(path)


def test_damaged_archives_become_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "clip.npz"
    np.savez_compressed(path, poses=np.arange(600.0).reshape(4, 150))
    data = bytearray(path.read_bytes())
    data[60:80] = b"\xff" * 20  # inside the deflate stream
    path.write_bytes(bytes(data))
    message = _refusal(path, lambda: npz.read_npz(path))
    assert message.startswith("'clip.npz' ") and "Traceback" not in message and "Error" not in message


def test_object_and_record_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    assert "Python objects" in _refusal(path, lambda: npz.read_npz(path))


def test_json_depth_and_constants_are_bounded(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert "nested more than" in _refusal(deep, lambda: json_text.load_file(deep))
    nan = tmp_path / "nan.json"
    nan.write_text('{"rank": Infinity}')
    assert "Infinity" in _refusal(nan, lambda: json_text.load_file(nan))
    # Brackets inside strings do not count.
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"a": "[" * 500}))
    assert json_text.load_file(ok) == {"a": "[" * 500}


def test_shared_reference_pickle_is_refused_quickly() -> None:
    # 40 levels, each a list holding the level below twice: 2^40 leaves, a few hundred bytes.
    item: list = [1.0]
    for _ in range(40):
        item = [item, item]
    data = pickle.dumps({"v_template": item}, protocol=2)
    assert len(data) < 2000
    with pytest.raises(ConversionError, match="nested more than"):
        to_numpy_tree(safe_loads(data))
    # 20 levels pass the depth bound; converting visits each shared list once, and the count of
    # numbers (2^20 uses of one leaf) is what float_array bounds.
    item = [1.0]
    for _ in range(20):
        item = [item, item]
    converted = to_numpy_tree(safe_loads(pickle.dumps({"v": item}, protocol=2)))
    with pytest.raises(InputError, match="more than 1000 numbers"):
        arrays.leaf_count(converted["v"], limit=1000)


def test_sparse_matrix_of_absurd_shape_is_refused() -> None:
    from core.rig.safe_pickle import SparseMatrixObject, _holder_class

    holder = _holder_class(SparseMatrixObject, "scipy.sparse._csc.csc_matrix")()
    holder.state = {"_shape": (10**6, 10**6), "data": np.ones(1), "indices": np.zeros(1), "indptr": None}
    with pytest.raises(ConversionError, match="beyond any body model"):
        to_numpy_tree(holder)
    holder.state = {"_shape": (3, -2), "data": np.ones(1), "indices": np.zeros(1), "indptr": np.zeros(3)}
    with pytest.raises(ConversionError):
        to_numpy_tree(holder)


def test_array_conversion_checks_type_shape_and_float32_range() -> None:
    with pytest.raises(InputError, match="text"):
        arrays.float_array(np.array("abc"), "poses", (None, 165))
    with pytest.raises(InputError, match="shape"):
        arrays.float_array(np.float64(3.0), "poses", (None, 165))
    with pytest.raises(InputError, match="beyond the plausible"):
        arrays.float_array(np.full((2, 3), 1e300), "trans", (None, 3))
    with pytest.raises(InputError, match="NaN"):
        arrays.float_array(np.array([[np.nan, 0, 0]]), "trans", (None, 3))
    assert arrays.float_array(np.ones((2, 3), np.float32), "trans", (None, 3)).dtype == np.float64
    with pytest.raises(InputError, match="outside the plausible range"):
        numbers.frame_rate(np.array(1e-6))
    with pytest.raises(InputError):
        numbers.frame_rate(np.array([]))
    with pytest.raises(InputError, match="whole number"):
        arrays.integer(True, "rank", low=0, high=10)


def test_frame_numbers_take_ascii_digits_only() -> None:
    assert names.ascii_number("00012") == 12
    assert names.ascii_number("①") is None and names.ascii_number("²") is None
    assert names.numeric_sort_key("①") == (1, 0, "①")
    undecodable = os.fsdecode(b"clip\xff.npz")
    assert display_name(undecodable) == "clip?.npz"
