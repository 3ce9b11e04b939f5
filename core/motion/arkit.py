"""ARKit-52 blendshape curves from face-capture files (bpy-free, torch-free).

Reads
- the CSV that Live Link Face style capture apps write: ``Timecode`` (``hh:mm:ss:ff.sss``, frame and
  fraction of a frame at the capture's rate), ``BlendShapeCount``, one column per ARKit name
  (``EyeBlinkLeft``, ``JawOpen``...) and, when present, head and eye rotations (``HeadYaw``,
  ``HeadPitch``, ``HeadRoll``, ``LeftEyeYaw``... ``RightEyeRoll``);
- a plain CSV of named weights per frame (optional ``time`` (s), ``timestamp_ms`` or ``frame``
  column), and JSON: a list of frames (``{name: weight}``, or MediaPipe's ``[{"categoryName",
  "score"}]`` categories), ``{"fps", "frames": [...]}`` or ``{"fps", "names", "weights"}``.

Names match case-insensitively and ignore ``_``/``-``/spaces (``EyeBlinkLeft`` = ``eyeBlinkLeft`` =
``eye_blink_left``); MediaPipe's ``_neutral`` and unknown columns are skipped with a note. Every
problem raises ``MotionFileError`` with one sentence naming the file and, for data, row and column.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..untrusted import files, json_text, numbers, reading
from ..untrusted.errors import display_name, short
from ..untrusted.files import MIB
from .errors import MotionFileError

# The 52 ARKit blendshape locations, in ARKit's documented order and spelling.
ARKIT_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft",
    "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)  # fmt: skip
NEUTRAL_NAMES = ("_neutral", "neutral")  # MediaPipe's extra category: not an ARKit shape
# Rotation columns: part -> (yaw, pitch, roll) column names.
ROTATION_COLUMNS: dict[str, tuple[str, str, str]] = {
    "head": ("HeadYaw", "HeadPitch", "HeadRoll"),
    "left_eye": ("LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll"),
    "right_eye": ("RightEyeYaw", "RightEyePitch", "RightEyeRoll"),
}
TIMECODE_COLUMN = "timecode"
COUNT_COLUMN = "blendshapecount"
# Plain time columns: key -> factor to seconds (frame columns count at the given frame rate).
TIME_COLUMNS: dict[str, float] = {"time": 1.0, "seconds": 1.0, "times": 1.0, "timestamp": 1.0,
                                  "timestampms": 1e-3, "timems": 1e-3}  # fmt: skip
FRAME_COLUMNS = ("frame", "frameindex")
STANDARD_RATES = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0, 72.0, 90.0, 100.0, 120.0, 240.0)
DEFAULT_FPS = 60.0  # Live Link Face records at 60 fps by default
_TIMECODE = re.compile(r"^\s*(\d{1,6}):(\d{1,2}):(\d{1,2})[:;.](\d{1,6})(?:\.(\d{1,9}))?\s*$", re.ASCII)
MAX_FILE_BYTES = 256 * MIB
MAX_VALUE = 1e6  # weights are 0..1 and rotations radians or degrees: beyond is a damaged file
TIME_LIMIT = 1e15  # time columns may hold epoch milliseconds; durations are bounded after


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


_ARKIT_BY_KEY = {_key(n): n for n in ARKIT_NAMES}
_ROTATION_BY_KEY = {
    _key(c): (part, axis) for part, cols in ROTATION_COLUMNS.items() for axis, c in enumerate(cols)
}


def canonical_name(name: str) -> str | None:
    """The ARKit spelling of ``name`` (``EyeBlinkLeft`` -> ``eyeBlinkLeft``), or None."""
    return _ARKIT_BY_KEY.get(_key(name))


@dataclass(frozen=True)
class ArkitClip:
    """T samples of ARKit weights.

    names: the ARKit names present (canonical spelling, file order); weights (T, N);
    times (T,) seconds from the first sample, strictly increasing; rotations: ``head``,
    ``left_eye``, ``right_eye`` -> (T, 3) yaw, pitch, roll in radians, where the file has them;
    fps: the capture rate when known (timecode rate, a given rate, or the JSON's ``fps``).
    """

    names: tuple[str, ...]
    weights: np.ndarray
    times: np.ndarray
    rotations: dict[str, np.ndarray] = field(default_factory=dict)
    fps: float | None = None
    source: str = ""
    notes: tuple[str, ...] = ()

    @property
    def num_frames(self) -> int:
        return int(self.weights.shape[0])

    @property
    def duration(self) -> float:
        return float(self.times[-1] - self.times[0]) if self.num_frames else 0.0

    def weight(self, name: str) -> np.ndarray:
        """(T,) curve of one ARKit name (any spelling); zeros when the clip lacks it."""
        canonical = canonical_name(name)
        if canonical in self.names:
            return self.weights[:, self.names.index(canonical)]
        return np.zeros(self.num_frames)

    def dense(self) -> np.ndarray:
        """(T, 52) weights in ARKIT_NAMES order, zeros for names the clip lacks."""
        out = np.zeros((self.num_frames, len(ARKIT_NAMES)))
        for i, name in enumerate(self.names):
            out[:, ARKIT_NAMES.index(name)] = self.weights[:, i]
        return out


# --- timecodes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timecode:
    hours: int
    minutes: int
    seconds: int
    frame: int
    subframe: float  # fraction of a frame

    def to_seconds(self, rate: float) -> float:
        return self.hours * 3600 + self.minutes * 60 + self.seconds + (self.frame + self.subframe) / rate


def parse_timecode(text: str) -> Timecode:
    """``hh:mm:ss:ff[.sss]`` (``;`` for drop-frame also accepted); raises ValueError."""
    match = _TIMECODE.match(text)
    if match is None:
        raise ValueError(f"'{text}' is not a timecode hh:mm:ss:ff.sss")
    h, m, s, f = (int(match.group(i)) for i in range(1, 5))
    if m >= 60 or s >= 60:
        raise ValueError(f"'{text}' has minutes or seconds past 59")
    sub = float("0." + match.group(5)) if match.group(5) else 0.0
    return Timecode(h, m, s, f, sub)


def infer_timecode_rate(codes: list[Timecode]) -> float | None:
    """The capture rate from the frame field: the smallest standard rate above the largest frame
    number, when the clip crosses a second boundary (else the field never wrapped: None)."""
    if len({(c.hours, c.minutes, c.seconds) for c in codes}) < 2:
        return None
    needed = max(c.frame for c in codes) + 1
    for rate in STANDARD_RATES:
        if rate >= needed:
            return rate
    return float(needed)


# --- parsing helpers ---------------------------------------------------------------------------


def _number(text: str, name: str, row: int, column: str, limit: float = MAX_VALUE) -> float:
    try:
        value = float(text)
    except ValueError:
        shown = short(text, 24)
        raise MotionFileError(
            f"'{name}' row {row}, column '{short(column, 40)}': '{shown}' is not a number."
        ) from None
    if not math.isfinite(value):
        raise MotionFileError(
            f"'{name}' row {row}, column '{short(column, 40)}' is {short(text, 24)} (not finite)."
        )
    if abs(value) > limit:
        raise MotionFileError(
            f"'{name}' row {row}, column '{short(column, 40)}' is {value:.3g}, "
            f"beyond the plausible +-{limit:g}."
        )
    return value


@dataclass
class _Columns:
    """Which column means what, from a header."""

    weights: list[tuple[int, str]] = field(default_factory=list)  # (column index, ARKit name)
    rotations: list[tuple[int, str, int]] = field(default_factory=list)  # (column, part, axis)
    timecode: int | None = None
    time: tuple[int, float] | None = None  # (column, factor to seconds)
    frame: int | None = None
    ignored: list[str] = field(default_factory=list)


def _classify(header: list[str], name: str) -> _Columns:
    cols = _Columns()
    seen: dict[str, str] = {}
    for index, raw in enumerate(header):
        label = raw.strip().lstrip("\ufeff")
        key = _key(label)
        if not label:
            continue
        if label.lower() in NEUTRAL_NAMES or key == COUNT_COLUMN:
            continue
        arkit = _ARKIT_BY_KEY.get(key)
        if arkit is not None:
            if arkit in seen:
                raise MotionFileError(f"'{name}' has two columns for {arkit}: '{seen[arkit]}' and '{label}'.")
            seen[arkit] = label
            cols.weights.append((index, arkit))
        elif key in _ROTATION_BY_KEY:
            part, axis = _ROTATION_BY_KEY[key]
            cols.rotations.append((index, part, axis))
        elif key == TIMECODE_COLUMN:
            cols.timecode = index
        elif key in TIME_COLUMNS and cols.time is None:
            cols.time = (index, TIME_COLUMNS[key])
        elif key in FRAME_COLUMNS and cols.frame is None:
            cols.frame = index
        else:
            cols.ignored.append(label)
    if not cols.weights:
        shown = ", ".join(h.strip() for h in header[:8]) + (", ..." if len(header) > 8 else "")
        raise MotionFileError(
            f"'{name}' has no column named after an ARKit blendshape (such as EyeBlinkLeft or jawOpen); "
            f"its columns are {shown}."
        )
    return cols


def _rotations(values: np.ndarray, cols: _Columns, scale: float, name: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    by_part: dict[str, dict[int, int]] = {}
    for index, part, axis in cols.rotations:
        by_part.setdefault(part, {})[axis] = index
    for part, axes in by_part.items():
        if len(axes) != 3:
            missing = [ROTATION_COLUMNS[part][a] for a in range(3) if a not in axes]
            raise MotionFileError(
                f"'{name}' has {part.replace('_', ' ')} rotation columns but no {', '.join(missing)}."
            )
        out[part] = values[:, [axes[0], axes[1], axes[2]]] * scale
    return out


def _clean_times(times: np.ndarray, name: str, what: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(times from 0, kept row mask, notes): repeated times keep their first row; going back is an error."""
    steps = np.diff(times)
    back = np.flatnonzero(steps < 0)
    if back.size:
        i = int(back[0]) + 1
        raise MotionFileError(
            f"'{name}': the {what} goes backwards at data row {i + 1} "
            f"({times[i - 1]:.4f} s, then {times[i]:.4f} s)."
        )
    keep = np.ones(times.shape[0], dtype=bool)
    keep[1:] = steps > 0
    notes = []
    if not keep.all():
        notes.append(f"{int((~keep).sum())} samples with a repeated {what} were dropped")
    kept = times[keep]
    return kept - kept[0], keep, notes


def _finish(
    name: str,
    source: str,
    cols: _Columns,
    numeric: np.ndarray,
    times: np.ndarray,
    fps: float | None,
    rotation_scale: float,
    notes: list[str],
) -> ArkitClip:
    if numeric.shape[0] == 0:
        raise MotionFileError(f"'{name}' has no frames.")
    if fps is not None:
        _plausible_rate(name, fps, "frame rate")
    rel, keep, more = _clean_times(times, name, "timecode" if cols.timecode is not None else "time")
    if rel[-1] > numbers.MAX_DURATION_S:
        raise MotionFileError(
            f"'{name}' spans {rel[-1]:.4g} s, longer than the {numbers.MAX_DURATION_S:g} s a clip may last."
        )
    notes = notes + more
    if cols.ignored:
        shown = ", ".join(cols.ignored[:6]) + (", ..." if len(cols.ignored) > 6 else "")
        notes.append(f"ignored {len(cols.ignored)} columns that are not ARKit names ({shown})")
    weights = numeric[keep][:, [i for i, _n in cols.weights]]
    rotations = _rotations(numeric[keep], cols, rotation_scale, name)
    names = tuple(n for _i, n in cols.weights)
    return ArkitClip(names, weights, rel, rotations, fps, source, tuple(notes))


# --- CSV ---------------------------------------------------------------------------------------


def _file_text(path: Path, kind: str) -> str:
    with reading(path, lambda n, problem: MotionFileError(f"'{n}' {problem}.")):
        data = files.read_bytes(path, MAX_FILE_BYTES)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MotionFileError(f"'{display_name(path)}' is not a text (UTF-8) {kind} file.") from None


def _plausible_rate(name: str, rate: float, label: str) -> float:
    with reading(name, lambda n, problem: MotionFileError(f"'{n}' {problem}.")):
        return numbers.frame_rate(rate, label)


def _read_rows(path: Path) -> list[list[str]]:
    text = _file_text(path, "CSV")
    try:
        sample = text[:4096]
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        handle = io.StringIO(text, newline="")
        return [row for row in csv.reader(handle, dialect) if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise MotionFileError(
            f"'{display_name(path)}' is not a readable CSV file ({short(exc, 80)})."
        ) from None


def _read_csv(path: Path, fps: float | None, timecode_rate: float | None, rotation_scale: float) -> ArkitClip:
    name = path.name
    rows = _read_rows(path)
    if not rows:
        raise MotionFileError(f"'{name}' is empty.")
    header, data = rows[0], rows[1:]
    cols = _classify(header, name)
    width = len(header)
    numeric_cols = [i for i, _n in cols.weights] + [i for i, _p, _a in cols.rotations]
    numeric = np.zeros((len(data), width))
    for r, row in enumerate(data):
        if len(row) != width:
            raise MotionFileError(
                f"'{name}' data row {r + 1} has {len(row)} values but the header names {width} columns."
            )
        for c in numeric_cols:
            numeric[r, c] = _number(row[c], name, r + 1, header[c].strip())
    notes: list[str] = []
    rate: float | None = fps
    if cols.timecode is not None:
        codes = []
        for r, row in enumerate(data):
            try:
                codes.append(parse_timecode(row[cols.timecode]))
            except ValueError as exc:
                raise MotionFileError(f"'{name}' data row {r + 1}: {exc}.") from None
        rate = timecode_rate or infer_timecode_rate(codes)
        if rate is not None:
            _plausible_rate(name, rate, "timecode rate")
        if rate is None:
            rate = fps or DEFAULT_FPS
            notes.append(f"the clip is under a second, so its timecode rate is taken as {rate:g} fps")
        late = [c.frame for c in codes if c.frame >= rate]
        if late:
            raise MotionFileError(
                f"'{name}' has timecode frame {max(late)} at a rate of {rate:g} fps; "
                "give the capture's frame rate."
            )
        times = np.array([c.to_seconds(rate) for c in codes])
    elif cols.time is not None:
        index, factor = cols.time
        times = (
            np.array(
                [
                    _number(row[index], name, r + 1, header[index].strip(), TIME_LIMIT)
                    for r, row in enumerate(data)
                ]
            )
            * factor
        )
        times = times - (times[0] if times.size else 0.0)
    elif cols.frame is not None:
        rate = fps or DEFAULT_FPS
        frames = np.array(
            [
                _number(row[cols.frame], name, r + 1, header[cols.frame].strip(), TIME_LIMIT)
                for r, row in enumerate(data)
            ]
        )
        times = (frames - (frames[0] if frames.size else 0.0)) / rate
    else:
        rate = fps or DEFAULT_FPS
        if fps is None:
            notes.append(f"the file has no time column, so its rows are taken at {rate:g} fps")
        times = np.arange(len(data)) / rate
    return _finish(name, str(path), cols, numeric, times, rate, rotation_scale, notes)


# --- JSON --------------------------------------------------------------------------------------


def _frame_dict(frame: Any, name: str, index: int) -> dict[str, Any]:
    """One JSON frame as {column: value}: a dict of weights, or MediaPipe categories."""
    if isinstance(frame, list):
        frame = {"blendshapes": frame}
    if not isinstance(frame, dict):
        raise MotionFileError(f"'{name}' frame {index} is not an object of named weights.")
    for key in ("blendshapes", "categories", "face_blendshapes", "faceBlendshapes"):
        if key in frame:
            cats = frame[key]
            if isinstance(cats, list) and len(cats) == 1 and isinstance(cats[0], list):
                cats = cats[0]  # MediaPipe: one category list per detected face
            out = {k: v for k, v in frame.items() if k != key}
            if not isinstance(cats, list):
                raise MotionFileError(f"'{name}' frame {index} has '{key}' that is not a list.")
            for cat in cats:
                label = cat.get("categoryName", cat.get("category_name")) if isinstance(cat, dict) else None
                if label is None or "score" not in cat:
                    raise MotionFileError(
                        f"'{name}' frame {index} has a blendshape entry without categoryName and score."
                    )
                out[str(label)] = cat["score"]
            return out
    return frame


def _json_frames(doc: Any, name: str) -> tuple[list[dict[str, Any]], float | None]:
    fps = None
    if isinstance(doc, dict):
        for key in ("fps", "frame_rate", "framerate"):
            if key in doc:
                with reading(name, lambda n, problem: MotionFileError(f"'{n}' {problem}.")):
                    fps = numbers.frame_rate(doc[key], key)
        if "names" in doc and "weights" in doc:
            names, weights = doc["names"], doc["weights"]
            if not isinstance(names, list) or not isinstance(weights, list):
                raise MotionFileError(f"'{name}' has 'names' and 'weights' that are not lists.")
            frames = []
            for i, row in enumerate(weights):
                if not isinstance(row, list) or len(row) != len(names):
                    got = len(row) if isinstance(row, list) else "not a list"
                    raise MotionFileError(
                        f"'{name}' weights row {i} has {got} values for {len(names)} names."
                    )
                frames.append(dict(zip((str(n) for n in names), row, strict=True)))
            return frames, fps
        doc = doc.get("frames", doc.get("blendshapes"))
    if not isinstance(doc, list):
        raise MotionFileError(
            f"'{name}' is not an ARKit weight file: expected a list of frames, or an object with "
            "'frames' or 'names' and 'weights'."
        )
    return [_frame_dict(f, name, i) for i, f in enumerate(doc)], fps


def _read_json(path: Path, fps: float | None, rotation_scale: float) -> ArkitClip:
    name = path.name
    text = _file_text(path, "JSON")
    with reading(path, lambda n, problem: MotionFileError(f"'{n}' {problem}.")):
        doc = json_text.loads(text)
    frames, file_fps = _json_frames(doc, name)
    if not frames:
        raise MotionFileError(f"'{name}' has no frames.")
    header = list(frames[0].keys())
    keys = set(header)
    for i, frame in enumerate(frames[1:], start=1):
        if set(frame) != keys:
            diff = sorted(keys ^ set(frame))[:4]
            raise MotionFileError(f"'{name}' frame {i} names other weights than frame 0 ({', '.join(diff)}).")
    cols = _classify(header, name)
    if cols.timecode is not None:
        cols.ignored.append(header[cols.timecode])
    numeric_cols = [i for i, _n in cols.weights] + [i for i, _p, _a in cols.rotations]
    numeric = np.zeros((len(frames), len(header)))
    for r, frame in enumerate(frames):
        for c in numeric_cols:
            value = frame[header[c]]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                shown = short(repr(value), 40)
                raise MotionFileError(
                    f"'{name}' frame {r}, '{short(header[c], 40)}': {shown} is not a number."
                )
            numeric[r, c] = _number(str(value), name, r, header[c])
    rate = fps or file_fps
    notes: list[str] = []
    if cols.time is not None:
        index, factor = cols.time
        times = np.array(
            [_number(str(f[header[index]]), name, r, header[index], TIME_LIMIT) for r, f in enumerate(frames)]
        )
        times = (times - times[0]) * factor
    else:
        if rate is None:
            notes.append(
                f"the file gives no frame rate or times, so its frames are taken at {DEFAULT_FPS:g} fps"
            )
        times = np.arange(len(frames)) / (rate or DEFAULT_FPS)
    return _finish(name, str(path), cols, numeric, times, rate or DEFAULT_FPS, rotation_scale, notes)


# --- entry ---------------------------------------------------------------------------------------


def read_arkit(
    path: str | Path,
    *,
    fps: float | None = None,
    timecode_rate: float | None = None,
    rotation_unit: str = "RADIANS",
) -> ArkitClip:
    """Reads an ARKit weight file (.csv, .txt or .json).

    fps: the rate of files without times (and of timecodes in clips under a second);
    timecode_rate: the timecodes' frame rate (None: inferred from the frame field);
    rotation_unit: 'RADIANS' or 'DEGREES' for the head and eye rotation columns.
    Raises MotionFileError with one sentence.
    """
    p = Path(path).expanduser()
    if not files.is_regular(p):
        with reading(p, lambda n, problem: MotionFileError(f"ARKit weight file '{n}' {problem}.")):
            files.check_regular(p)
    for label, value in (("frame rate", fps), ("timecode rate", timecode_rate)):
        if value is not None and not (math.isfinite(value) and numbers.MIN_FPS <= value <= numbers.MAX_FPS):
            raise MotionFileError(
                f"The {label} must be between {numbers.MIN_FPS:g} and {numbers.MAX_FPS:g}, not {value}."
            )
    scale = math.pi / 180.0 if rotation_unit == "DEGREES" else 1.0
    if p.suffix.lower() == ".json":
        return _read_json(p, fps, scale)
    return _read_csv(p, fps, timecode_rate, scale)
