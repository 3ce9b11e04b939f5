"""FLAME parameter sequences from face tracking, for expression reenactment (bpy-free).

Reads a GaussianAvatars / VHAP ``flame_param`` folder (one ``{t:05d}.npz`` per timestep, keys
``expr`` (1,E), ``rotation``, ``neck_pose``, ``jaw_pose``, ``translation`` (1,3), ``eyes_pose``
(1,6), ``shape``, ``static_offset``), a dataset folder holding one, or a single .npz with the same
keys and a leading frame axis (``pose`` (T,15) = root, neck, jaw, eyes is accepted in place of the
four rotations). Resampling works like AMASS's: slerp for rotations, linear for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..untrusted import arrays, numbers, reading
from ..untrusted.files import GIB, MIB, is_regular
from ..untrusted.names import numeric_sort_key
from ..untrusted.npz import read_npz
from .errors import MotionFileError
from .resample import resample_axis_angle, resample_linear, sample_times

# Per-frame keys: rotations (joints per key) and linear values.
ROTATION_KEYS: dict[str, int] = {"rotation": 1, "neck_pose": 1, "jaw_pose": 1, "eyes_pose": 2}
LINEAR_KEYS: tuple[str, ...] = ("translation", "expr")
FRAME_KEYS: tuple[str, ...] = tuple(ROTATION_KEYS) + LINEAR_KEYS
IDENTITY_KEYS: tuple[str, ...] = ("shape", "static_offset")
FULL_POSE_KEY = "pose"  # (T,15): root, neck, jaw, left eye, right eye
_FULL_POSE_SPLIT = (("rotation", 0, 3), ("neck_pose", 3, 6), ("jaw_pose", 6, 9), ("eyes_pose", 9, 15))
FPS_KEYS: tuple[str, ...] = ("fps", "framerate", "frame_rate", "mocap_frame_rate", "mocap_framerate")
PARAM_FOLDER = "flame_param"
MAX_VALUE = 1e4  # radians, metres and blend-shape coefficients alike: beyond is a damaged file
MAX_SEQUENCE_BYTES = 2 * GIB
MAX_FRAME_FILE_BYTES = 64 * MIB


@dataclass(frozen=True)
class FlameSequence:
    """T frames of FLAME parameters with the datasets' keys.

    frames: per-frame arrays, each (T, n) (eyes_pose (T,6), expr (T,E)); identity: ``shape`` (S,)
    and ``static_offset`` (1,V,3) where given; fps: the file's frame rate, or None when it has none.
    """

    frames: dict[str, np.ndarray]
    identity: dict[str, np.ndarray] = field(default_factory=dict)
    fps: float | None = None
    source: str = ""
    notes: tuple[str, ...] = ()

    @property
    def num_frames(self) -> int:
        return int(next(iter(self.frames.values())).shape[0])

    def as_params(
        self, keys: tuple[str, ...] | None = None, with_identity: bool = False
    ) -> dict[str, np.ndarray]:
        """A dataset dictionary (sequence) of the chosen per-frame keys, plus identity if asked."""
        chosen = {k: v for k, v in self.frames.items() if keys is None or k in keys}
        if with_identity:
            chosen.update(self.identity)
        return chosen


def _file_error(name: str, problem: str) -> MotionFileError:
    return MotionFileError(f"FLAME parameter file '{name}' {problem}.")


def _load_npz(path: Path, max_bytes: int = MAX_SEQUENCE_BYTES) -> dict[str, np.ndarray]:
    with reading(path, _file_error, ".npz"):
        return read_npz(path, max_file_bytes=max_bytes)


def _float(name: str, key: str, value: np.ndarray) -> np.ndarray:
    with reading(name, lambda n, problem: MotionFileError(f"'{n}' {problem}.")):
        arr = arrays.float_array(value, key, limit=MAX_VALUE)
    if arr.ndim == 0:
        raise MotionFileError(f"'{name}' has a single number where '{key}' should be an array.")
    return arr


def _expected_width(key: str) -> int | None:
    if key in ROTATION_KEYS:
        return 3 * ROTATION_KEYS[key]
    return 3 if key == "translation" else None


def _frame_rate(data: dict[str, np.ndarray], name: str) -> float | None:
    for key in FPS_KEYS:
        if key in data:
            with reading(name, lambda n, problem: MotionFileError(f"'{n}' {problem}.")):
                return numbers.frame_rate(data[key], key)
    return None


def _check_duration(name: str, count: int, fps: float | None) -> None:
    with reading(name, lambda n, problem: MotionFileError(f"'{n}' {problem}.")):
        numbers.check_duration(count, fps or 30.0, "sequence")


def _split_full_pose(data: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    if FULL_POSE_KEY not in data:
        return data
    clash = [k for k in ROTATION_KEYS if k in data]
    if clash:
        raise MotionFileError(f"'{name}' has both 'pose' and '{clash[0]}'; give one or the other.")
    pose = _float(name, FULL_POSE_KEY, data[FULL_POSE_KEY])
    if pose.shape[-1] != 15:
        raise MotionFileError(f"'{name}' has 'pose' of shape {pose.shape}; FLAME's full pose has 15 values.")
    out = dict(data)
    del out[FULL_POSE_KEY]
    for key, start, stop in _FULL_POSE_SPLIT:
        out[key] = pose[..., start:stop]
    return out


def _identity(data: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    out = {}
    if "shape" in data:
        shape = _float(name, "shape", data["shape"])
        out["shape"] = shape.reshape(-1) if shape.ndim <= 1 or shape.shape[0] == 1 else shape[0]
    if "static_offset" in data:
        offset = _float(name, "static_offset", data["static_offset"])
        if offset.shape[-1] != 3:
            raise MotionFileError(
                f"'{name}' has 'static_offset' of shape {offset.shape}; expected (1, V, 3)."
            )
        out["static_offset"] = offset.reshape(1, -1, 3)
    return out


def _notes(data: dict[str, np.ndarray]) -> tuple[str, ...]:
    if "dynamic_offset" in data:
        return ("per-frame dynamic_offset is not applied (a rig has one identity)",)
    return ()


def _no_frame_keys(name: str) -> MotionFileError:
    return MotionFileError(
        f"'{name}' holds none of the FLAME per-frame parameters ({', '.join(FRAME_KEYS)} or 'pose')."
    )


def _read_one_file(path: Path) -> FlameSequence:
    """One .npz holding a whole sequence (leading frame axis), or a single frame."""
    name = path.name
    data = _split_full_pose(_load_npz(path), name)
    frames: dict[str, np.ndarray] = {}
    count: int | None = None
    for key in FRAME_KEYS:
        if key not in data:
            continue
        arr = _float(name, key, data[key])
        if arr.ndim == 3 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim == 1:
            arr = arr[None]
        width = _expected_width(key)
        if arr.ndim != 2 or (width is not None and arr.shape[1] != width):
            wanted = f"(T, {width})" if width else "(T, E)"
            raise MotionFileError(f"'{name}' has '{key}' of shape {arr.shape}; expected {wanted}.")
        if count is not None and arr.shape[0] != count:
            first = next(iter(frames))
            raise MotionFileError(f"'{name}' has {arr.shape[0]} frames of '{key}' but {count} of '{first}'.")
        count = arr.shape[0]
        frames[key] = arr
    if not frames:
        raise _no_frame_keys(name)
    if count == 0:
        raise MotionFileError(f"'{name}' has no frames.")
    fps = _frame_rate(data, name)
    _check_duration(name, count or 0, fps)
    return FlameSequence(frames, _identity(data, name), fps, str(path), _notes(data))


def _frame_files(folder: Path) -> list[Path]:
    if (folder / PARAM_FOLDER).is_dir():
        folder = folder / PARAM_FOLDER
    files = [p for p in folder.iterdir() if p.suffix == ".npz" and is_regular(p)]
    if len(files) > numbers.MAX_FRAMES:
        raise MotionFileError(
            f"Folder '{folder.name}' holds {len(files)} frame files, more than a sequence may."
        )
    # Timesteps are zero-padded numbers; sort numerically where they are numbers, else by name.
    return sorted(files, key=lambda p: numeric_sort_key(p.stem))


def _read_folder(folder: Path) -> FlameSequence:
    files = [p for p in _frame_files(folder) if not p.name.startswith("canonical")]
    if not files:
        raise MotionFileError(
            f"Folder '{folder}' holds no FLAME parameter files (.npz, or a flame_param folder)."
        )
    rows: dict[str, list[np.ndarray]] = {}
    first: dict[str, np.ndarray] = {}
    for index, path in enumerate(files):
        data = _split_full_pose(_load_npz(path, MAX_FRAME_FILE_BYTES), path.name)
        present = [k for k in FRAME_KEYS if k in data]
        if index == 0:
            if not present:
                raise _no_frame_keys(path.name)
            first = data
            rows = {k: [] for k in present}
        elif set(present) != set(rows):
            missing = sorted(set(rows) ^ set(present))
            raise MotionFileError(
                f"'{path.name}' differs from '{files[0].name}' in its keys ({', '.join(missing)})."
            )
        for key in rows:
            arr = _float(path.name, key, data[key]).reshape(-1)
            width = _expected_width(key) or (rows[key][0].shape[0] if rows[key] else arr.shape[0])
            if arr.shape[0] != width:
                raise MotionFileError(
                    f"'{path.name}' has '{key}' with {arr.shape[0]} values; expected {width} "
                    f"(as in '{files[0].name}')."
                )
            rows[key].append(arr)
    frames = {k: np.stack(v) for k, v in rows.items()}
    fps = _frame_rate(first, files[0].name)
    _check_duration(folder.name, len(files), fps)
    return FlameSequence(frames, _identity(first, files[0].name), fps, str(folder), _notes(first))


def read_flame_sequence(path: str | Path) -> FlameSequence:
    """Reads a flame_param folder, a dataset folder holding one, or one sequence .npz.

    Raises MotionFileError with one clear sentence on bad input.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        return _read_folder(p)
    if not p.exists():
        raise MotionFileError(f"FLAME parameter path '{p}' does not exist.")
    return _read_one_file(p)


def resample_sequence(
    sequence: FlameSequence,
    target_fps: float,
    source_fps: float | None = None,
    start: int = 0,
    end: int | None = None,
) -> FlameSequence:
    """The sequence at target_fps, cut to source frames [start, end]. source_fps overrides the file's."""
    fps = source_fps or sequence.fps
    if not fps or fps <= 0:
        raise MotionFileError("The sequence has no frame rate; give the source frame rate.")
    with reading("sequence", lambda n, problem: MotionFileError(f"The sequence {problem}.")):
        fps = numbers.frame_rate(fps, "source frame rate")
    count = sequence.num_frames
    last = count - 1 if end is None or end < 0 else min(end, count - 1)
    if not 0 <= start <= last:
        raise MotionFileError(f"Frame range {start}..{last} is outside the sequence's 0..{count - 1}.")
    positions = start + sample_times(last - start + 1, fps, target_fps)
    frames = {}
    for key, values in sequence.frames.items():
        if key in ROTATION_KEYS:
            joints = ROTATION_KEYS[key]
            rot = resample_axis_angle(values.reshape(count, joints, 3), positions)
            frames[key] = rot.reshape(positions.shape[0], 3 * joints)
        else:
            frames[key] = resample_linear(values, positions)
    return replace(sequence, frames=frames, fps=float(target_fps))
