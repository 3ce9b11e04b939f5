"""AMASS clips (.npz) in the SMPL-H (156) and SMPL-X (165) pose layouts.

The clip's world is Z-up (like Blender); its root orientation already turns the Y-up body model
upright. ``to_rig_space`` re-expresses the root so the clip plays on our rigs, whose armature
object carries the Y-up -> Z-up rotation (docs/DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..rig.model import SMPLH_JOINT_NAMES
from ..rotations import axis_angle_to_matrix, matrix_to_axis_angle
from ..untrusted import arrays, numbers, reading
from ..untrusted.files import GIB
from ..untrusted.npz import read_npz
from .errors import MotionFileError

__all__ = ["AmassClip", "MotionFileError", "read_amass", "resample_clip", "rig_root", "to_rig_space"]


# Joint ranges in the flat pose vector, per layout. Hands are 15 joints each, eyes SMPL-X only.
SMPLH_LAYOUT = {"root": (0, 3), "body": (3, 66), "left_hand": (66, 111), "right_hand": (111, 156)}
SMPLX_LAYOUT = {"root": (0, 3), "body": (3, 66), "jaw": (66, 69), "eyes": (69, 75),
                "left_hand": (75, 120), "right_hand": (120, 165)}  # fmt: skip
FRAME_RATE_KEYS = ("mocap_framerate", "mocap_frame_rate", "fps")

# Plausibility bounds (the file's own units): axis-angle radians, metres, shape and expression
# coefficients. Anything beyond is a damaged file, and would only key nonsense (or inf) in Blender.
MAX_ANGLE = 1e4
MAX_METRES = 1e5
MAX_COEFFICIENT = 1e4
MAX_FILE_BYTES = 2 * GIB

# The rest pelvis J0 of a typical SMPL / SMPL-H body in its own (Y-up) coordinates: these models put
# the pelvis about 0.2 m below the model origin (a public, often-met pitfall: aitviewer issue #5); the
# real AMASS sample's waist markers place it at y = -0.21. Used only when the clip's own body model
# is not available; the exact J0 comes from the model file (``body_model_path``).
TYPICAL_PELVIS = np.array([0.0, -0.22, 0.03])

# Y-up model space -> Z-up world: (x, y, z) -> (x, -z, y), a rotation of +90 degrees about X.
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True)
class AmassClip:
    """One clip, as SMPL-X parameter sequences (T frames) in the clip's own Z-up world."""

    layout: str  # "SMPLH" or "SMPLX"
    fps: float
    global_orient: np.ndarray  # (T,3) axis-angle, Z-up world
    transl: np.ndarray  # (T,3)
    body_pose: np.ndarray  # (T,21,3)
    left_hand_pose: np.ndarray  # (T,15,3)
    right_hand_pose: np.ndarray  # (T,15,3)
    jaw_pose: np.ndarray  # (T,3)
    leye_pose: np.ndarray  # (T,3)
    reye_pose: np.ndarray  # (T,3)
    betas: np.ndarray  # (B,)
    gender: str
    expression: np.ndarray | None = None  # (T,E)

    @property
    def num_frames(self) -> int:
        return int(self.transl.shape[0])

    @property
    def duration(self) -> float:
        return (self.num_frames - 1) / self.fps


def _frame_rate(data: dict[str, np.ndarray]) -> float:
    for key in FRAME_RATE_KEYS:
        if key in data:
            return numbers.frame_rate(data[key], key)
    raise MotionFileError(f"has no frame rate (none of {', '.join(FRAME_RATE_KEYS)})")


def _error(name: str, problem: str) -> MotionFileError:
    return MotionFileError(f"AMASS file '{name}' {problem}.")


def read_amass(path: str | Path) -> AmassClip:
    """Reads an AMASS .npz; raises MotionFileError with one clear sentence on bad input."""
    path = Path(path)
    with reading(path, _error, ".npz"):
        data = read_npz(path, max_file_bytes=MAX_FILE_BYTES)
        try:
            return _clip(data)
        except MotionFileError as exc:  # a phrase from below: name the file
            raise _error(path.name, str(exc)) from None


def _clip(data: dict[str, np.ndarray]) -> AmassClip:
    for key in ("poses", "trans"):
        if key not in data:
            raise MotionFileError(f"has no '{key}' array; is it an AMASS clip?")
    poses = np.asarray(data["poses"])
    if poses.ndim != 2 or poses.shape[1] not in (156, 165):
        raise MotionFileError(
            f"has poses of shape {poses.shape}; expected (T,156) for SMPL-H or (T,165) for SMPL-X"
        )
    poses = arrays.float_array(poses, "poses", (None, None), limit=MAX_ANGLE)
    frames = poses.shape[0]
    if frames == 0:
        raise MotionFileError("has no frames")
    trans = np.asarray(data["trans"])
    if trans.shape != (frames, 3):
        raise MotionFileError(f"has trans of shape {trans.shape}; expected ({frames}, 3)")
    trans = arrays.float_array(trans, "trans", (frames, 3), limit=MAX_METRES)
    fps = _frame_rate(data)
    numbers.check_duration(frames, fps)
    layout = "SMPLH" if poses.shape[1] == 156 else "SMPLX"
    ranges = SMPLH_LAYOUT if layout == "SMPLH" else SMPLX_LAYOUT

    def part(key: str, joints: int) -> np.ndarray:
        start, stop = ranges[key]
        return poses[:, start:stop].reshape(frames, joints, 3)

    zeros = np.zeros((frames, 3))
    eyes = part("eyes", 2) if layout == "SMPLX" else np.zeros((frames, 2, 3))
    betas = arrays.float_array(data.get("betas", np.zeros(10)), "betas", limit=MAX_COEFFICIENT).reshape(-1)
    gender = arrays.text_value(data.get("gender"), "gender", "neutral")
    if gender.strip().lower() not in ("male", "female", "neutral", ""):
        gender = "neutral"
    expression = None
    if "expression" in data:
        expression = arrays.float_array(
            data["expression"], "expression", (frames, None), limit=MAX_COEFFICIENT
        )
    return AmassClip(
        layout=layout,
        fps=fps,
        global_orient=part("root", 1)[:, 0],
        transl=trans,
        body_pose=part("body", 21),
        left_hand_pose=part("left_hand", 15),
        right_hand_pose=part("right_hand", 15),
        jaw_pose=part("jaw", 1)[:, 0] if layout == "SMPLX" else zeros.copy(),
        leye_pose=eyes[:, 0],
        reye_pose=eyes[:, 1],
        betas=betas,
        gender=gender.strip().lower() or "neutral",
        expression=expression,
    )


def to_rig_space(
    global_orient: np.ndarray, transl: np.ndarray, rest_pelvis: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Root rotation and translation for a rig whose object turns Y-up into Z-up.

    The clip poses a body as  w = R (v - J0) + J0 + t  directly in its Z-up world. Our rig
    evaluates  w = C (R' (v - J0) + J0 + t')  with C the Y-up -> Z-up rotation, so
    R' = C^T R and t' = C^T (J0 + t) - J0, where J0 is the rig's rest pelvis (model space).
    """
    return rig_root(global_orient, transl, rest_pelvis, rest_pelvis)


def clip_pelvis_world(transl: np.ndarray, clip_pelvis: np.ndarray) -> np.ndarray:
    """(T,3) pelvis positions in the clip's Z-up world: J0 + t (J0 is not turned by the root)."""
    return np.asarray(transl, dtype=np.float64) + np.asarray(clip_pelvis, dtype=np.float64).reshape(3)


def rig_root(
    global_orient: np.ndarray,
    transl: np.ndarray,
    clip_pelvis: np.ndarray,
    rig_pelvis: np.ndarray,
    *,
    in_place: bool = False,
    lift: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Root rotation and translation that put the rig's pelvis where the clip's pelvis is.

    clip_pelvis: the rest pelvis J0 of the body model the clip was fitted with (model space); the
    clip's pelvis then travels along  J0 + t  in its Z-up world. rig_pelvis: the rig's own rest
    pelvis (model space). in_place: keep the pelvis over the world origin (no horizontal motion).
    lift: added to the world height of every frame (e.g. to put the lowest foot on the floor).
    """
    conversion = Y_UP_TO_Z_UP
    rotations = conversion.T @ axis_angle_to_matrix(global_orient)
    world = clip_pelvis_world(transl, clip_pelvis).copy()
    if in_place:
        world[:, :2] = 0.0
    world[:, 2] += lift
    pelvis = np.asarray(rig_pelvis, dtype=np.float64).reshape(3)
    new_transl = world @ conversion - pelvis  # rows: C^T world - J0_rig
    return matrix_to_axis_angle(rotations), new_transl


def joint_rotations(
    clip: AmassClip, joint_names: list[str] | tuple[str, ...]
) -> tuple[np.ndarray, list[str]]:
    """The clip's (T,J,3) local rotations for a rig's joints, matched by SMPL-X / SMPL-H joint name
    (SMPL-H clips carry no jaw or eyes: those stay at rest). Also the rig joints the clip does not
    move. The root (first joint) holds the clip's global orientation, still in the clip's world."""
    frames = clip.num_frames
    by_name: dict[str, np.ndarray] = {"pelvis": clip.global_orient}
    for i, name in enumerate(SMPLH_JOINT_NAMES[1:22]):
        by_name[name] = clip.body_pose[:, i]
    for i, name in enumerate(SMPLH_JOINT_NAMES[22:37]):
        by_name[name] = clip.left_hand_pose[:, i]
    for i, name in enumerate(SMPLH_JOINT_NAMES[37:52]):
        by_name[name] = clip.right_hand_pose[:, i]
    if clip.layout == "SMPLX":
        by_name["jaw"] = clip.jaw_pose
        by_name["left_eye_smplhf"] = clip.leye_pose
        by_name["right_eye_smplhf"] = clip.reye_pose
    pose = np.zeros((frames, len(joint_names), 3))
    missing = []
    for j, name in enumerate(joint_names):
        if name in by_name:
            pose[:, j] = by_name[name]
        else:
            missing.append(name)
    return pose, missing


# Where the AMASS body models are found inside the folder set in the preferences
# (AMASS's own layout first, then the smplx package's file names).
_BODY_MODEL_PATTERNS = (
    "{family}/{gender}/model.npz",
    "{gender}/model.npz",
    "{family}/{FAMILY}_{GENDER}.npz",
    "{family}/{FAMILY}_{GENDER}.pkl",
    "{FAMILY}_{GENDER}.npz",
    "{FAMILY}_{GENDER}.pkl",
)


def body_model_path(folder: str | Path, layout: str, gender: str) -> Path | None:
    """The body model file a clip was fitted with, inside an AMASS body-model folder, or None."""
    if not folder:
        return None
    root = Path(folder).expanduser()
    if not root.is_dir():
        return None
    family = "smplh" if layout == "SMPLH" else "smplx"
    genders = [gender.lower()] + (["neutral"] if gender.lower() != "neutral" else [])
    for sex in genders:
        for pattern in _BODY_MODEL_PATTERNS:
            candidate = root / pattern.format(
                family=family, FAMILY=family.upper(), gender=sex, GENDER=sex.upper()
            )
            if candidate.is_file():
                return candidate
    return None


def model_rest_pelvis(
    v_template: np.ndarray, shape_dirs: np.ndarray, regressor: np.ndarray, betas: np.ndarray
) -> np.ndarray:
    """The rest pelvis J0 of a body model for the given betas (extra betas are ignored)."""
    count = min(shape_dirs.shape[2], betas.shape[0])
    shaped = v_template + shape_dirs[:, :, :count] @ betas[:count]
    return np.asarray(regressor[0] @ shaped, dtype=np.float64)


def resample_clip(clip: AmassClip, target_fps: float, start: int = 0, end: int | None = None) -> AmassClip:
    """The clip at target_fps (slerp for rotations), optionally cut to source frames [start, end]."""
    from .resample import resample_axis_angle, resample_linear, sample_times

    last = clip.num_frames - 1 if end is None else min(end, clip.num_frames - 1)
    if not 0 <= start <= last:
        raise MotionFileError(f"Frame range {start}..{last} is outside the clip's 0..{clip.num_frames - 1}.")
    positions = start + sample_times(last - start + 1, clip.fps, target_fps)

    def rot(a: np.ndarray) -> np.ndarray:
        return resample_axis_angle(a, positions)

    return AmassClip(
        layout=clip.layout,
        fps=float(target_fps),
        global_orient=rot(clip.global_orient),
        transl=resample_linear(clip.transl, positions),
        body_pose=rot(clip.body_pose),
        left_hand_pose=rot(clip.left_hand_pose),
        right_hand_pose=rot(clip.right_hand_pose),
        jaw_pose=rot(clip.jaw_pose),
        leye_pose=rot(clip.leye_pose),
        reye_pose=rot(clip.reye_pose),
        betas=clip.betas,
        gender=clip.gender,
        expression=None if clip.expression is None else resample_linear(clip.expression, positions),
    )
