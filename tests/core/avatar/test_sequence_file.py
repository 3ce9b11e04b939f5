"""The .gavatar4d sequence file: round trip within its quantisation (version 3, every Gaussian
listed or only some), version-1 and version-2 files still read, frames mapped from the file, the scene-frame
mapping, and damaged or hostile files refused with one clear sentence."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.avatar.sequence_file import BYTES_PER_GAUSSIAN_FRAME, SequenceFile, SequenceFileError, frame_index
from core.avatar.sequence_writer import HIDDEN_LOGIT, write_sequence
from tests.fixtures.sequence import moving_frames, write_moving_sequence, write_version1_sequence


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
    np.testing.assert_allclose(seq.sh, arrays["sh"], rtol=1e-3, atol=1e-4)  # float16 colours
    # Every Gaussian listed at every frame: 22 bytes per Gaussian and frame and a bit, plus one held
    # value (22 bytes) per Gaussian, the colours and the headers.
    assert seq.num_entries == 6 * 240
    frame_bytes = 6 * 240 * BYTES_PER_GAUSSIAN_FRAME + 6 * 30 + 240 * 22 + arrays["sh"].nbytes // 2
    assert frame_bytes < path.stat().st_size < frame_bytes + 4096
    assert seq.frame(99).means.tolist() == seq.frame(5).means.tolist()  # clamped


def test_version_2_files_with_float32_colours_still_read(tmp_path: Path, monkeypatch) -> None:
    from core.avatar import sequence_writer

    monkeypatch.setattr(sequence_writer, "VERSION", 2)
    path = tmp_path / "v2.gavatar4d"
    arrays = write_moving_sequence(path)
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("header.json"))["version"] == 2
        assert np.load(io.BytesIO(archive.read("static/sh.npy"))).dtype == np.float32
    seq = SequenceFile(path)
    seq.verify()
    assert seq.version == 2
    np.testing.assert_array_equal(seq.sh, arrays["sh"])
    np.testing.assert_allclose(seq.frame(3).quats, arrays["quats"][3], atol=1e-3)


def test_colours_out_of_float16_range_are_refused(tmp_path: Path) -> None:
    arrays = moving_frames(count=10, frames=3)
    arrays["sh"][4, 0, 1] = 1e6
    with pytest.raises(SequenceFileError, match="out-of-range"):
        write_sequence(tmp_path / "x.gavatar4d", **arrays, fps=24.0, times=[0.0, 0.5, 1.0])
    assert not (tmp_path / "x.gavatar4d").exists()


def test_only_listed_gaussians_are_stored_per_frame(tmp_path: Path) -> None:
    arrays = moving_frames(count=50, frames=5)
    t, g = 5, 50
    still = np.arange(g) < 20  # the first 20 stay where they are: their values are constant
    for name in ("means", "quats", "log_scales", "opacity_logits"):
        arrays[name][:, still] = arrays[name][2, still]
    listed = np.zeros((t, g), bool)
    listed[:, 20:35] = True  # these move at every frame
    listed[1:3, 35:] = True  # these show at frames 1 and 2 only
    path = tmp_path / "split.gavatar4d"
    write_sequence(path, **arrays, fps=12.0, times=np.linspace(0, 1, t).tolist(), listed=listed)
    seq = SequenceFile(path)
    seq.verify()
    assert seq.version == 3 and seq.num_entries == 5 * 15 + 2 * 15
    step = np.ptp(np.concatenate([arrays["means"][2, :20], arrays["means"][:, 20:35].reshape(-1, 3),
                                  arrays["means"][1:3, 35:].reshape(-1, 3)]), axis=0) / 65535  # fmt: skip
    for k in range(t):
        f = seq.frame(k)
        assert seq.listed(k).tolist() == np.flatnonzero(listed[k]).tolist()
        shown = still | listed[k]
        assert (np.abs(f.means - arrays["means"][k])[shown] <= step / 2 + 1e-6).all()
        np.testing.assert_allclose(f.quats[shown], arrays["quats"][k][shown], atol=1e-3)
        np.testing.assert_allclose(f.opacity_logits[shown], arrays["opacity_logits"][k][shown], atol=5e-3)
        assert (f.opacity_logits[~shown] == HIDDEN_LOGIT).all()  # listed elsewhere: hidden here
    # 50 Gaussians held once (22 bytes each) and 105 entries of 22 bytes, not 5 x 50.
    assert path.stat().st_size < 105 * BYTES_PER_GAUSSIAN_FRAME + g * 22 + arrays["sh"].nbytes // 2 + 4096
    everything = tmp_path / "all.gavatar4d"
    write_sequence(everything, **arrays, fps=12.0, times=np.linspace(0, 1, t).tolist())
    saved = everything.stat().st_size - path.stat().st_size  # the 145 entries not stored (+- box digits)
    assert abs(saved - 145 * BYTES_PER_GAUSSIAN_FRAME) < 100


def test_version1_files_still_read(tmp_path: Path) -> None:
    arrays = moving_frames(count=30, frames=4)
    path = tmp_path / "old.gavatar4d"
    write_version1_sequence(path, arrays, fps=30.0)
    seq = SequenceFile(path)
    seq.verify()
    assert (seq.version, seq.num_frames, seq.num_gaussians, seq.fps, seq.y_up) == (1, 4, 30, 30.0, False)
    assert seq.num_entries == 4 * 30 and seq.listed(2).tolist() == list(range(30))
    box = np.ptp(arrays["means"].reshape(-1, 3), axis=0)
    for k in range(4):
        f = seq.frame(k)
        assert (np.abs(f.means - arrays["means"][k]) <= box / 65535 / 2 + 1e-6).all()
        np.testing.assert_allclose(f.log_scales, arrays["log_scales"][k], atol=5e-3)
    with zipfile.ZipFile(path) as z:  # a version-1 file lacking a frame member is refused
        members = {n: z.read(n) for n in z.namelist()}
    broken = tmp_path / "broken.gavatar4d"
    with zipfile.ZipFile(broken, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            if name != "frames/opacity.npy":
                z.writestr(name, data)
    with pytest.raises(SequenceFileError, match=r"lacks frames/opacity\.npy"):
        SequenceFile(broken)


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


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _listed_of(good: Path) -> np.ndarray:
    with zipfile.ZipFile(good) as z:
        return np.load(io.BytesIO(z.read("frames/listed.npy")))


# Member replacements that make a hostile file out of a good one: 6 frames of 237 Gaussians (30
# bytes of bits per frame, 3 of them padding), all listed: 1422 entries, 237 per frame.
def _hostile(damage: str, bits: np.ndarray) -> dict[str, bytes]:
    bits = bits.copy()
    if damage == "listed_padding":
        bits[1, 29] |= 0b1000_0000  # frame 1 names Gaussian 239 of 237
    elif damage == "listed_count":
        bits[1, 3] &= 0b1111_1110  # frame 1 lists 236 but stores 237 entries
    elif damage == "listed_shape":
        bits = bits[:, :29]
    elif damage == "listed_dtype":
        bits = bits.astype(np.int16)
    elif damage == "offsets_order":
        return {"frames/offsets.npy": _npy(np.array([0, 474, 237, 711, 948, 1185, 1422]))}
    elif damage == "offsets_end":
        return {"frames/offsets.npy": _npy(np.array([0, 237, 474, 711, 948, 1185, 1421]))}
    elif damage == "offsets_too_many":
        return {"frames/offsets.npy": _npy(np.array([0, 0, 474, 711, 948, 1185, 1422]))}
    elif damage == "static_shape":
        return {"static/means.npy": _npy(np.zeros((236, 3), np.uint16))}
    elif damage == "static_nan":
        quats = np.zeros((237, 4), np.float16)
        quats[7, 2] = np.nan
        return {"static/quats.npy": _npy(quats)}
    elif damage == "shape":
        return {"frames/opacity.npy": _npy(np.zeros(10, np.float16))}
    elif damage == "nan":
        opacity = np.zeros(1422, np.float16)
        opacity[500] = np.inf
        return {"frames/opacity.npy": _npy(opacity)}
    else:
        return {}
    return {"frames/listed.npy": _npy(bits)}


@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncated", "not a readable sequence file|truncated"),
        ("not_zip", "not a readable sequence file"),
        ("no_header", "no header.json"),
        ("version", "sequence version 9"),
        ("format", "not a Gaussian sequence file"),
        ("missing_member", "lacks frames/quats.npy"),
        ("missing_listing", "lacks frames/listed.npy"),
        ("shape", r"frames/opacity.npy is \(10,\) float16, expected \(1422,\)"),
        ("flipped", "checksum mismatch"),
        ("nan", "NaN or infinite"),
        ("listed_padding", r"frame 1 lists Gaussians past the last one \(237\)"),
        ("listed_count", "frame 1 lists 236 Gaussians but stores 237 entries"),
        ("listed_shape", r"frames/listed.npy is \(6, 29\) uint8, expected \(6, 30\) uint8"),
        ("listed_dtype", r"frames/listed.npy is \(6, 30\) int16, expected \(6, 30\) uint8"),
        ("offsets_order", "frames/offsets.npy is broken"),
        ("offsets_end", r"frames/means.npy is \(1422, 3\) uint16, expected \(1421, 3\)"),
        ("offsets_too_many", "frames/offsets.npy is broken"),
        ("static_shape", r"static/means.npy is \(236, 3\) uint16, expected \(237, 3\)"),
        ("static_nan", "static/quats.npy holds NaN or infinite values"),
    ],
)
def test_damaged_files_are_refused(tmp_path: Path, damage: str, message: str) -> None:
    good = tmp_path / "good.gavatar4d"
    write_moving_sequence(good, count=237)
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
        replaced = _hostile(damage, _listed_of(good))

        def change(name: str, data: bytes) -> bytes | None:
            header = json.loads(data) if name == "header.json" else None
            if damage == "no_header" and header is not None:
                return None
            if damage == "version" and header is not None:
                return json.dumps({**header, "version": 9}).encode()
            if damage == "format" and header is not None:
                return json.dumps({**header, "format": "something"}).encode()
            if (damage, name) in (
                ("missing_member", "frames/quats.npy"),
                ("missing_listing", "frames/listed.npy"),
            ):
                return None
            return replaced.get(name, data)

        _rewrite(good, bad, change)
    with pytest.raises(SequenceFileError, match=message) as caught:
        SequenceFile(bad).verify()
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("damage", ["listed_padding", "listed_count"])
def test_a_hostile_listing_is_refused_when_its_frame_is_read(tmp_path: Path, damage: str) -> None:
    good = tmp_path / "good.gavatar4d"
    write_moving_sequence(good, count=237)
    bad = tmp_path / "bad.gavatar4d"
    replaced = _hostile(damage, _listed_of(good))
    _rewrite(good, bad, lambda name, data: replaced.get(name, data))
    seq = SequenceFile(bad)  # opening reads no listing (it stays cheap for long sequences)
    seq.frame(0)
    with pytest.raises(SequenceFileError, match="frame 1 lists"):
        seq.frame(1)


def test_writer_refuses_bad_arrays(tmp_path: Path) -> None:
    arrays = moving_frames(count=10, frames=3)
    arrays["means"][1, 2, 0] = np.inf
    with pytest.raises(SequenceFileError, match="means holds NaN"):
        write_sequence(tmp_path / "x.gavatar4d", **arrays, fps=24.0, times=[0, 0.5, 1])
    assert not list(tmp_path.iterdir())
    arrays["means"][1, 2, 0] = 0.0
    with pytest.raises(SequenceFileError, match=r"listed has shape \(3, 9\)"):
        write_sequence(
            tmp_path / "x.gavatar4d", **arrays, fps=24.0, times=[0, 0.5, 1], listed=np.ones((3, 9))
        )
    assert not list(tmp_path.iterdir())
