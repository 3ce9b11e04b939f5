"""The .gavatar4d sequence file: round trip within its quantisation, frames mapped from the file,
the scene-frame mapping, and damaged files refused with one clear sentence."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.avatar.sequence_file import BYTES_PER_GAUSSIAN_FRAME, SequenceFile, SequenceFileError, frame_index
from tests.fixtures.sequence import moving_frames, write_moving_sequence


def test_round_trip_within_quantisation(tmp_path: Path) -> None:
    path = tmp_path / "s.gavatar4d"
    arrays = write_moving_sequence(path)
    seq = SequenceFile(path)
    seq.verify()
    assert (seq.num_frames, seq.num_gaussians, seq.sh_degree, seq.fps) == (6, 240, 1, 24.0)
    box = np.ptp(arrays["means"].reshape(-1, 3), axis=0)
    for k in range(seq.num_frames):
        f = seq.frame(k)
        assert np.abs(f.means - arrays["means"][k]).max(axis=0) == pytest.approx(
            box / 65535 / 2, abs=1e-6, rel=0.5
        )
        np.testing.assert_allclose(f.quats, arrays["quats"][k], atol=1e-3)
        np.testing.assert_allclose(f.log_scales, arrays["log_scales"][k], atol=5e-3)
        np.testing.assert_allclose(f.opacity_logits, arrays["opacity_logits"][k], atol=5e-3)
    np.testing.assert_array_equal(seq.sh, arrays["sh"])
    # The frames are the file's bytes: 22 per Gaussian and frame, plus headers and colours.
    frame_bytes = 6 * 240 * BYTES_PER_GAUSSIAN_FRAME
    assert frame_bytes < path.stat().st_size < frame_bytes + arrays["sh"].nbytes + 4096
    assert seq.frame(99).means.tolist() == seq.frame(5).means.tolist()  # clamped


def test_scene_frame_mapping() -> None:
    # A 12 fps sequence of 5 frames starting at scene frame 10 of a 24 fps scene.
    shown = [frame_index(f, 10, 24.0, 12.0, 5, loop=False) for f in range(8, 20)]
    assert shown == [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4]
    assert frame_index(10, 10, 24.0, 24.0, 5, loop=False) == 0
    assert frame_index(14, 10, 24.0, 24.0, 5, loop=False) == 4
    assert frame_index(16, 10, 24.0, 24.0, 5, loop=False) == 4
    assert frame_index(16, 10, 24.0, 24.0, 5, loop=True) == 1
    assert frame_index(9, 10, 24.0, 24.0, 5, loop=True) == 4


def _rewrite(src: Path, dst: Path, change) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncated", "not a readable sequence file|truncated"),
        ("not_zip", "not a readable sequence file"),
        ("no_header", "no header.json"),
        ("version", "sequence version 9"),
        ("format", "not a Gaussian sequence file"),
        ("missing_member", "lacks frames/quats.npy"),
        ("shape", r"frames/opacity.npy is \(6, 10\)"),
        ("flipped", "checksum mismatch"),
        ("nan", "NaN or infinite"),
    ],
)
def test_damaged_files_are_refused(tmp_path: Path, damage: str, message: str) -> None:
    good = tmp_path / "good.gavatar4d"
    write_moving_sequence(good)
    bad = tmp_path / "bad.gavatar4d"
    raw = good.read_bytes()
    if damage == "truncated":
        bad.write_bytes(raw[: len(raw) // 2])
    elif damage == "not_zip":
        bad.write_bytes(b"hello" * 100)
    elif damage == "flipped":
        with zipfile.ZipFile(good) as z:
            info = z.getinfo("frames/means.npy")
        at = info.header_offset + 30 + len(info.filename) + len(info.extra) + 400
        bad.write_bytes(raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1 :])
    else:

        def change(name: str, data: bytes) -> bytes | None:
            header = json.loads(data) if name == "header.json" else None
            if damage == "no_header" and header is not None:
                return None
            if damage == "version" and header is not None:
                return json.dumps({**header, "version": 9}).encode()
            if damage == "format" and header is not None:
                return json.dumps({**header, "format": "something"}).encode()
            if damage == "missing_member" and name == "frames/quats.npy":
                return None
            if damage in ("shape", "nan") and name == "frames/opacity.npy":
                import io

                array = np.zeros((6, 10) if damage == "shape" else (6, 240), dtype=np.float16)
                array[2, 3] = np.nan
                buffer = io.BytesIO()
                np.save(buffer, array)
                return buffer.getvalue()
            return data

        _rewrite(good, bad, change)
    with pytest.raises(SequenceFileError, match=message):
        SequenceFile(bad).verify()


def test_writer_refuses_bad_arrays(tmp_path: Path) -> None:
    from core.avatar.sequence_file import write_sequence

    arrays = moving_frames(count=10, frames=3)
    arrays["means"][1, 2, 0] = np.inf
    with pytest.raises(SequenceFileError, match="means holds NaN"):
        write_sequence(tmp_path / "x.gavatar4d", **arrays, fps=24.0, times=[0, 0.5, 1])
    assert not list(tmp_path.iterdir())
