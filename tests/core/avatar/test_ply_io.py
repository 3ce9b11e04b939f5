"""3DGS PLY read/write: round trips, the graphdeco layout on disk, other encodings, broken files."""

from __future__ import annotations

import contextlib
import io
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from core.avatar import ply as ply_module
from core.avatar.gaussians import SH_C0, GaussianSet, rgb_to_sh_dc, sh_dc_to_rgb
from core.avatar.ply import PlyError, ply_property_names, read_ply, read_ply_info, write_ply


def random_gaussians(n: int, degree: int, seed: int = 0) -> GaussianSet:
    rng = np.random.default_rng(seed)
    return GaussianSet(
        means=rng.normal(size=(n, 3)).astype(np.float32),
        quats=rng.normal(size=(n, 4)).astype(np.float32),
        log_scales=rng.normal(-3.0, 1.0, size=(n, 3)).astype(np.float32),
        opacity_logits=rng.normal(size=n).astype(np.float32),
        sh=rng.normal(size=(n, (degree + 1) ** 2, 3)).astype(np.float32),
    )


def values_by_property(g: GaussianSet) -> dict[str, np.ndarray]:
    """The graphdeco property values, computed independently of the writer (channel-major rest)."""
    k = g.sh.shape[1]
    out = {"x": g.means[:, 0], "y": g.means[:, 1], "z": g.means[:, 2]}
    out.update({f"f_dc_{c}": g.sh[:, 0, c] for c in range(3)})
    for c in range(3):
        for j in range(1, k):
            out[f"f_rest_{c * (k - 1) + (j - 1)}"] = g.sh[:, j, c]
    out["opacity"] = g.opacity_logits
    out.update({f"scale_{i}": g.log_scales[:, i] for i in range(3)})
    out.update({f"rot_{i}": g.quats[:, i] for i in range(4)})
    return out


def write_custom_ply(
    path: Path,
    fmt: str,
    columns: list[tuple[str, str, np.ndarray]],
    *,
    before: str = "",
    after: str = "",
    before_data: bytes = b"",
) -> None:
    """A hand-rolled PLY writer for tests: (name, ply type, values) columns."""
    n = len(columns[0][2])
    head = ["ply", f"format {fmt} 1.0", "comment test"]
    if before:
        head.append(before)
    head.append(f"element vertex {n}")
    head += [f"property {t} {name}" for name, t, _ in columns]
    if after:
        head.append(after)
    head.append("end_header")
    data = ("\n".join(head) + "\n").encode()
    codes = {"float": "f", "double": "d", "uchar": "B", "int": "i"}
    if fmt == "ascii":
        rows = [
            " ".join(repr(float(v[i])) if t in ("float", "double") else str(int(v[i])) for _, t, v in columns)
            for i in range(n)
        ]
        data += before_data + ("\n".join(rows) + "\n").encode()
    else:
        order = "<" if fmt == "binary_little_endian" else ">"
        fmt_row = order + "".join(codes[t] for _, t, _ in columns)
        data += before_data + b"".join(struct.pack(fmt_row, *[v[i] for _, _, v in columns]) for i in range(n))
    path.write_bytes(data)


def assert_same(a: GaussianSet, b: GaussianSet, **kw: float) -> None:
    for name, value in a.fields().items():
        np.testing.assert_allclose(getattr(b, name), value, err_msg=name, **kw)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip_is_exact(tmp_path: Path, degree: int) -> None:
    g = random_gaussians(257, degree, seed=degree)
    path = tmp_path / "g.ply"
    write_ply(path, g)
    back = read_ply(path)
    assert back.sh_degree == degree and len(back) == 257
    for name, value in g.fields().items():
        assert np.array_equal(getattr(back, name), value), name
    info = read_ply_info(path)
    assert (info.num_gaussians, info.sh_degree, info.format) == (257, degree, "binary_little_endian")


def test_file_layout_is_graphdeco(tmp_path: Path) -> None:
    """Property order and the channel-major f_rest on disk, read back with a plain structured dtype."""
    g = random_gaussians(5, 3)
    path = tmp_path / "g.ply"
    write_ply(path, g)
    raw = path.read_bytes()
    end = raw.index(b"end_header\n") + len(b"end_header\n")
    header = raw[:end].decode().splitlines()
    props = [line.split()[2] for line in header if line.startswith("property")]
    assert props == ply_property_names(3)
    assert props[:9] == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    assert props[-8:] == ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    assert "format binary_little_endian 1.0" in header
    records = np.frombuffer(raw[end:], dtype=[(p, "<f4") for p in props])
    expected = values_by_property(g)
    for name, value in expected.items():
        assert np.array_equal(records[name], value), name
    assert np.all(records["nx"] == 0)
    # f_rest_1 is red of the second rest coefficient; f_rest_15 is green of the first (channel-major).
    assert records["f_rest_1"][0] == g.sh[0, 2, 0] and records["f_rest_15"][0] == g.sh[0, 1, 1]


@pytest.mark.parametrize("fmt", ["binary_big_endian", "ascii", "binary_little_endian"])
def test_reads_other_encodings_types_and_extra_elements(tmp_path: Path, fmt: str) -> None:
    g = random_gaussians(7, 1, seed=3)
    values = values_by_property(g)
    # Shuffle the property order, use doubles for some, add unknown extras and other elements.
    names = list(values)[::-1]
    columns = [(n, "double" if i % 3 == 0 else "float", values[n]) for i, n in enumerate(names)]
    columns.insert(4, ("red", "uchar", np.arange(7) % 256))
    before, before_data = "element camera 2\nproperty float fov\nproperty int id", b""
    if fmt == "ascii":
        before_data = b"0.5 1\n0.7 2\n"
    else:
        order = "<" if fmt == "binary_little_endian" else ">"
        before_data = struct.pack(order + "fifi", 0.5, 1, 0.7, 2)
    after = "element face 1\nproperty list uchar int vertex_indices"
    path = tmp_path / "g.ply"
    write_custom_ply(path, fmt, columns, before=before, after=after, before_data=before_data)
    back = read_ply(path)
    assert back.sh_degree == 1
    assert_same(g, back, rtol=1e-6, atol=1e-7)


def test_sh_dc_helpers() -> None:
    rgb = np.array([0.0, 0.25, 1.0])
    dc = rgb_to_sh_dc(rgb)
    np.testing.assert_allclose(dc * SH_C0 + 0.5, rgb)
    np.testing.assert_allclose(sh_dc_to_rgb(dc), rgb)


# --- broken files ---------------------------------------------------------------------------------


def expect_error(path: Path, *fragments: str) -> str:
    with pytest.raises(PlyError) as info:
        read_ply(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_missing_properties(tmp_path: Path) -> None:
    g = random_gaussians(3, 0)
    values = values_by_property(g)
    columns = [(n, "float", v) for n, v in values.items() if n not in ("opacity", "rot_3")]
    path = tmp_path / "points.ply"
    write_custom_ply(path, "binary_little_endian", columns)
    expect_error(path, "lacks", "opacity", "rot_3")


def test_point_cloud_is_refused(tmp_path: Path) -> None:
    xyz = np.zeros(4)
    path = tmp_path / "cloud.ply"
    write_custom_ply(
        path, "binary_little_endian", [("x", "float", xyz), ("y", "float", xyz), ("z", "float", xyz)]
    )
    expect_error(path, "not a 3DGS PLY", "point cloud")


def test_wrong_f_rest_count(tmp_path: Path) -> None:
    g = random_gaussians(3, 1)
    values = values_by_property(g)
    del values["f_rest_8"]
    path = tmp_path / "bad.ply"
    write_custom_ply(path, "binary_little_endian", [(n, "float", v) for n, v in values.items()])
    expect_error(path, "8 f_rest properties", "0, 9, 24 or 45")


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.ply"
    write_ply(path, random_gaussians(100, 2))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])
    message = expect_error(path, "truncated", "100 Gaussians")
    assert "only 93" in message


def test_truncated_ascii(tmp_path: Path) -> None:
    g = random_gaussians(4, 0)
    path = tmp_path / "cut.ply"
    write_custom_ply(path, "ascii", [(n, "float", v) for n, v in values_by_property(g).items()])
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-2]))
    expect_error(path, "truncated", "only 2 ascii rows")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(tmp_path: Path, bad: float) -> None:
    g = random_gaussians(10, 0)
    g.log_scales[6, 1] = bad
    path = tmp_path / "nan.ply"
    with pytest.raises(PlyError, match="refusing to write"):
        write_ply(path, g)
    write_ply(path, g, allow_nonfinite=True)
    expect_error(path, "NaN or infinite", "log_scales (1 Gaussians, first #6)")
    assert not np.isfinite(read_ply(path, allow_nonfinite=True).log_scales[6, 1])


def test_not_a_ply_and_bad_headers(tmp_path: Path) -> None:
    path = tmp_path / "x.ply"
    path.write_bytes(b"\x89PNG\r\n")
    expect_error(path, "not a PLY file")
    path.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\n")
    expect_error(path, "no 'end_header'")
    path.write_bytes(b"ply\nformat binary_middle_endian 1.0\nend_header\n")
    expect_error(path, "unsupported PLY format")
    path.write_bytes(b"ply\nformat ascii 1.0\nelement face 0\nend_header\n")
    expect_error(path, "no 'vertex' element")
    expect_missing = tmp_path / "missing.ply"
    with pytest.raises(PlyError, match="does not exist"):
        read_ply(expect_missing)


def test_compressed_splat_ply_is_named(tmp_path: Path) -> None:
    path = tmp_path / "compressed.ply"
    path.write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement chunk 1\nproperty float min_x\n"
        b"element vertex 1\nproperty uint packed_position\nproperty uint packed_rotation\n"
        b"end_header\n" + bytes(12)
    )
    expect_error(path, "compressed splat PLY")


def test_ascii_row_with_wrong_value_count(tmp_path: Path) -> None:
    g = random_gaussians(3, 0)
    path = tmp_path / "rows.ply"
    write_custom_ply(path, "ascii", [(n, "float", v) for n, v in values_by_property(g).items()])
    lines = path.read_bytes().splitlines(keepends=True)
    lines[-2] = lines[-2].rstrip() + b" 1.0\n"
    path.write_bytes(b"".join(lines))
    expect_error(path, "ascii vertex row 1", "expected 14")


# --- atomic writes --------------------------------------------------------------------------------


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keep.ply"
    write_ply(path, random_gaussians(50, 1))
    before = path.read_bytes()

    real_atomic_write = ply_module.atomic_write

    class FailingHandle:
        def __init__(self, inner):
            self.inner, self.calls = inner, 0

        def write(self, data) -> int:
            self.calls += 1
            if self.calls == 2:  # the header went through; the Gaussian data fails half-way
                self.inner.write(bytes(memoryview(data))[:100])
                raise OSError(28, "No space left on device")
            return self.inner.write(data)

    @contextlib.contextmanager
    def failing_atomic_write(target):
        with real_atomic_write(target) as handle:
            yield FailingHandle(handle)

    monkeypatch.setattr(ply_module, "atomic_write", failing_atomic_write)
    with pytest.raises(OSError, match="No space left"):
        write_ply(path, random_gaussians(60, 3, seed=9))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.ply"]


def test_write_into_missing_folder_is_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_ply(tmp_path / "nope" / "g.ply", random_gaussians(2, 0))


def test_gaussian_set_shape_checks() -> None:
    g = random_gaussians(4, 2)
    with pytest.raises(ValueError, match="quats"):
        GaussianSet(g.means, g.quats[:, :3], g.log_scales, g.opacity_logits, g.sh)
    with pytest.raises(ValueError, match="SH coefficients"):
        GaussianSet(g.means, g.quats, g.log_scales, g.opacity_logits, g.sh[:, :5])
    assert g.with_sh_degree(0).sh.shape == (4, 1, 3)
    padded = g.with_sh_degree(3)
    assert padded.sh.shape == (4, 16, 3) and np.all(padded.sh[:, 9:] == 0)
    assert len(g.subset(np.array([0, 2]))) == 2


def test_reads_from_streams_and_open_files(tmp_path: Path) -> None:
    """A PLY inside another file (a .gavatar member, or after a prefix in an open file)."""
    g = random_gaussians(30, 2, seed=11)
    path = tmp_path / "g.ply"
    write_ply(path, g)
    data = path.read_bytes()
    back = read_ply(io.BytesIO(data), name="member.ply")
    assert_same(g, back, rtol=0, atol=0)
    combined = tmp_path / "combined.bin"
    combined.write_bytes(b"PREFIX" + data)
    with open(combined, "rb") as handle:
        handle.read(6)
        assert_same(g, read_ply(handle), rtol=0, atol=0)
    with pytest.raises(PlyError, match=r"member\.ply is truncated"):
        read_ply(io.BytesIO(data[:-10]), name="member.ply")
