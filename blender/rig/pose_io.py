"""Forward inputs <-> a rig's pose and shape keys, one frame or a sequence, keyframed on request.

Forward inputs are ``core.rig.lbs.forward``'s arguments as a dict: ``betas`` (S,), ``expression``
(E,), ``pose`` (J,3) axis-angle in the model's joint order, ``transl`` (3,), optional
``vertex_offsets`` (V,3). A leading frame axis (T, ...) on any of them means a sequence.
``core.rig.params`` maps the datasets' parameter dicts to and from these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import bpy
import numpy as np
from bpy.types import Depsgraph, Scene

from ...core import rotations
from ...core.rig import bone_frames
from . import animation, bone_rotation, drivers, mesh_data, naming, training_range
from .build import SHAPE_SLIDER, bone_rest_frames, stored_regressor
from .parts import RigParts

ForwardInputs = Mapping[str, np.ndarray]


@dataclass
class WriteReport:
    frames: int = 0
    clamped: int = 0  # coefficients beyond the slider range, clamped to it
    outside_sliders: int = 0  # expression values beyond their keys' ranges (ARKit 0..1, training)
    dropped: list[str] = field(default_factory=list)  # what the rig has no keys for

    def messages(self) -> list[str]:
        out = list(self.dropped)
        if self.clamped:
            out.append(f"{self.clamped} shape/expression values beyond +-{SHAPE_SLIDER:g} were clamped")
        if self.outside_sliders:
            out.append(
                f"{self.outside_sliders} expression values beyond their sliders' ranges (ARKit weights "
                "0..1, or the avatar's training range) were clamped"
            )
        return out


def _frames_of(inputs: ForwardInputs, num_joints: int) -> int:
    counts = set()
    if inputs.get("pose") is not None:
        size = int(np.size(inputs["pose"]))
        if size == 0 or size % (3 * num_joints):
            raise ValueError(f"pose has {size} values, not a multiple of 3 x {num_joints} joints")
        counts.add(size // (3 * num_joints))
    for name in ("betas", "expression", "transl"):
        if inputs.get(name) is not None and np.ndim(inputs[name]) == 2:
            counts.add(int(np.shape(inputs[name])[0]))
    counts.discard(1)
    if len(counts) > 1:
        raise ValueError(f"parameters disagree on the number of frames: {sorted(counts)}")
    return counts.pop() if counts else 1


def _per_frame(value: np.ndarray, frames: int, item_ndim: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == item_ndim:
        arr = np.broadcast_to(arr, (frames,) + arr.shape)
    return arr


def _coefficients(
    values: np.ndarray | None, count: int, frames: int, what: str, report: WriteReport
) -> np.ndarray | None:
    """(T, count) coefficients for the rig's keys: extra ones dropped (reported if non-zero), missing = 0."""
    if values is None:
        return None
    arr = np.asarray(values, dtype=np.float64)
    arr = arr.reshape(-1, arr.shape[-1]) if arr.ndim else arr.reshape(1, 1)
    if arr.shape[-1] > count and np.any(arr[:, count:] != 0):
        report.dropped.append(
            f"{what} {count}..{arr.shape[-1] - 1} are not zero but the rig has only {count} {what} keys"
        )
    out = np.zeros((arr.shape[0], count))
    n = min(count, arr.shape[-1])
    out[:, :n] = arr[:, :n]
    clipped = np.clip(out, -SHAPE_SLIDER, SHAPE_SLIDER)
    report.clamped += int(np.count_nonzero(clipped != out))
    return np.broadcast_to(clipped, (frames, count)) if clipped.shape[0] == 1 else clipped


def _local_quaternions(parts: RigParts, pose: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    names = parts.joint_names
    _, frames = bone_rest_frames(parts.armature, names)
    model_rotations = rotations.axis_angle_to_matrix(pose.reshape(pose.shape[0], len(names), 3))
    quats = rotations.matrix_to_quaternion(bone_frames.model_to_local(model_rotations, frames))
    if previous is not None:  # start on the same side as the current pose, then stay continuous
        flip = np.sum(quats[0] * previous, axis=-1) < 0
        quats[0][flip] *= -1
    return bone_frames.continuous_quaternions(quats)


def set_static_offsets(parts: RigParts, offsets: np.ndarray, regressor: np.ndarray | None = None) -> None:
    """Per-vertex identity offsets (FLAME tracking's ``static_offset``) as the StaticOffset key (value 1).

    regressor: the model's joint regressor (J,V), so the joints follow the offsets as in the forward
    (default: the copy the rig keeps on its joint mesh).
    """
    if regressor is None:
        regressor = stored_regressor(parts.joints)
        if regressor is None:
            raise ValueError("the rig keeps no joint regressor; rebuild it with this version")
    mesh_key = parts.mesh.data.shape_keys  # type: ignore[union-attr]
    assert mesh_key is not None
    basis = mesh_data.shape_key_coords(mesh_key.key_blocks[naming.BASIS_KEY]).astype(np.float64)
    offsets = np.asarray(offsets, dtype=np.float64).reshape(basis.shape)
    joint_key = parts.joints.data.shape_keys  # type: ignore[union-attr]
    _, frames = bone_rest_frames(parts.armature, parts.joint_names)
    joint_basis = mesh_data.shape_key_coords(joint_key.key_blocks[naming.BASIS_KEY]).astype(np.float64)
    joint_delta = np.einsum("jba,jb->ja", frames, regressor @ offsets)
    for obj, base, delta in ((parts.mesh, basis, offsets), (parts.joints, joint_basis, joint_delta)):
        key_data = obj.data.shape_keys  # type: ignore[union-attr]
        block = key_data.key_blocks.get(naming.STATIC_OFFSET_KEY)
        if block is None:
            block = mesh_data.add_shape_key(obj, naming.STATIC_OFFSET_KEY, base, delta, 1.0)
            block.slider_min = 0.0
            if obj is parts.joints:
                drivers.drive_copy(block, mesh_key, f'key_blocks["{naming.STATIC_OFFSET_KEY}"].value')
        else:
            mesh_data.key_points(block).foreach_set("co", (base + delta).astype(np.float32).ravel())
    mesh_key.key_blocks[naming.STATIC_OFFSET_KEY].value = 1.0
    parts.mesh.data.update()  # type: ignore[union-attr]
    parts.joints.data.update()  # type: ignore[union-attr]


def write_pose(
    parts: RigParts,
    inputs: ForwardInputs,
    *,
    keyframe: bool = False,
    frame_start: int | None = None,
    frame_index: int = 0,
    scene: Scene | None = None,
    frame_numbers: np.ndarray | None = None,
) -> WriteReport:
    """Sets bone rotations, root location and shape-key values from forward inputs.

    keyframe: key every frame of a sequence at frame_start + t (default: the current frame), or at
    frame_numbers[t] when given (any increasing frames, e.g. a dataset's sparse timesteps);
    otherwise a sequence's frame ``frame_index`` is set, unkeyed. vertex_offsets need
    ``set_static_offsets`` (they carry no frame axis and need the model's regressor).
    """
    scene = scene or bpy.context.scene
    names = parts.joint_names
    num_frames = _frames_of(inputs, len(names))
    report = WriteReport()
    pose_in = inputs.get("pose")
    pose = None
    if pose_in is not None:
        pose = np.asarray(pose_in, dtype=np.float64).reshape(-1, len(names), 3)
        pose = np.broadcast_to(pose, (num_frames, len(names), 3)) if pose.shape[0] == 1 else pose
    transl = (
        _per_frame(inputs["transl"], num_frames, 1).reshape(num_frames, 3) if "transl" in inputs else None
    )
    info = parts.info
    betas = _coefficients(inputs.get("betas"), info.num_shape, num_frames, "shape", report)
    expression = _coefficients(
        inputs.get("expression"), info.num_expression, num_frames, "expression", report
    )
    if expression is not None:
        expression, report.outside_sliders = training_range.clamp_to_sliders(parts, expression)
    pose_bones = parts.armature.pose.bones  # type: ignore[union-attr]
    root = pose_bones[names[0]]
    _, bone_axes = bone_rest_frames(parts.armature, names)
    root_loc = transl @ bone_axes[0] if transl is not None else None  # B^T t, row-wise
    key_blocks = parts.mesh.data.shape_keys.key_blocks  # type: ignore[union-attr]
    coefficient_keys = [(betas, naming.shape_key), (expression, naming.expression_key)]

    if not keyframe:
        t = min(max(frame_index, 0), num_frames - 1)
        if pose is not None:
            bone_rotation.use_quaternions(parts.armature, names)
            current = np.array([pose_bones[n].rotation_quaternion for n in names])
            quats = _local_quaternions(parts, pose[t : t + 1], current)[0]
            for name, q in zip(names, quats, strict=True):
                pose_bones[name].rotation_quaternion = q
        if root_loc is not None:
            root.location = root_loc[t]
        for values, key_name in coefficient_keys:
            if values is not None:
                for i in range(values.shape[1]):
                    key_blocks[key_name(i)].value = float(values[t, i])
        report.frames = 1
        return report

    start = scene.frame_current if frame_start is None else frame_start
    frames = np.arange(start, start + num_frames, dtype=np.float64)
    if frame_numbers is not None:
        frames = np.asarray(frame_numbers, dtype=np.float64).reshape(-1)
        if frames.shape[0] != num_frames or np.any(np.diff(frames) <= 0):
            raise ValueError(f"frame_numbers must be {num_frames} increasing frames")
    arm = parts.armature
    arm_action = animation.ensure_action(arm, f"{arm.name} Pose")
    if pose is not None:
        bone_rotation.use_quaternions(arm, names)
        current = np.array([pose_bones[n].rotation_quaternion for n in names])
        quats = _local_quaternions(parts, pose, current)
        for j, name in enumerate(names):
            path = f'pose.bones["{name}"].rotation_quaternion'
            for c in range(4):
                fcurve = animation.ensure_fcurve(arm, arm_action, path, c, name)
                animation.set_keys(fcurve, frames, quats[:, j, c])
    if root_loc is not None:
        for c in range(3):
            fcurve = animation.ensure_fcurve(
                arm, arm_action, f'pose.bones["{names[0]}"].location', c, names[0]
            )
            animation.set_keys(fcurve, frames, root_loc[:, c])
    key_id = parts.mesh.data.shape_keys  # type: ignore[union-attr]
    assert key_id is not None
    key_action = None
    for values, key_name in coefficient_keys:
        if values is None:
            continue
        key_action = key_action or animation.ensure_action(key_id, f"{parts.mesh.name} Keys")
        constant = bool(np.all(values == values[:1]))
        key_frames = frames[:1] if constant else frames
        for i in range(values.shape[1]):
            fcurve = animation.ensure_fcurve(key_id, key_action, f'key_blocks["{key_name(i)}"].value', 0, "")
            animation.set_keys(fcurve, key_frames, values[: key_frames.shape[0], i])
    report.frames = num_frames
    return report


def _evaluated_matrices(parts: RigParts, depsgraph: Depsgraph) -> np.ndarray:
    arm_eval = parts.armature.evaluated_get(depsgraph)
    bones = arm_eval.pose.bones  # type: ignore[union-attr]
    return np.array([np.array(bones[name].matrix) for name in parts.joint_names], dtype=np.float64)


def read_pose(parts: RigParts, depsgraph: Depsgraph | None = None) -> dict[str, np.ndarray]:
    """The rig's evaluated state (constraints, drivers and animation included) as forward inputs."""
    dg = depsgraph or bpy.context.evaluated_depsgraph_get()
    names = parts.joint_names
    rest_heads, bone_axes = bone_rest_frames(parts.armature, names)
    matrices = _evaluated_matrices(parts, dg)
    # Pose-space rotation of bone j is W_j B_j, with W_j the model's world rotation of joint j.
    world = np.einsum("jab,jcb->jac", matrices[:, :3, :3], bone_axes)
    world = rotations.matrix_to_quaternion(world)  # re-orthonormalise float32 matrices
    world = rotations.quaternion_to_matrix(world)
    parents = _model_parents(parts)
    local = world.copy()
    for j in range(1, len(names)):
        local[j] = world[parents[j]].T @ world[j]
    pose = rotations.matrix_to_axis_angle(local)
    # The root's head sits at J_0 + delta_0 + transl; delta_0 (in bone axes) is the joint mesh's vertex 0.
    joints_eval = parts.joints.evaluated_get(dg).data
    delta0 = bone_axes[0] @ np.array(joints_eval.vertices[0].co, dtype=np.float64)  # type: ignore[union-attr]
    transl = matrices[0, :3, 3] - rest_heads[0] - delta0
    key = parts.mesh.data.shape_keys.evaluated_get(dg)  # type: ignore[union-attr]
    info = parts.info
    out = {
        "betas": np.array([key.key_blocks[naming.shape_key(i)].value for i in range(info.num_shape)]),
        "expression": np.array(
            [key.key_blocks[naming.expression_key(i)].value for i in range(info.num_expression)]
        ),
        "pose": pose,
        "transl": transl,
    }
    static = key.key_blocks.get(naming.STATIC_OFFSET_KEY)
    if static is not None and static.value != 0.0:
        basis = mesh_data.shape_key_coords(key.key_blocks[naming.BASIS_KEY]).astype(np.float64)
        out["vertex_offsets"] = static.value * (mesh_data.shape_key_coords(static) - basis)
    return out


def read_sequence(parts: RigParts, scene: Scene, frame_start: int, frame_end: int) -> dict[str, np.ndarray]:
    """read_pose over frames frame_start..frame_end (inclusive), stacked on a leading frame axis."""
    current = scene.frame_current
    frames: list[dict[str, np.ndarray]] = []
    try:
        for frame in range(frame_start, frame_end + 1):
            scene.frame_set(frame)
            frames.append(read_pose(parts, bpy.context.evaluated_depsgraph_get()))
    finally:
        scene.frame_set(current)
    out = {name: np.stack([f[name] for f in frames]) for name in ("betas", "expression", "pose", "transl")}
    if "vertex_offsets" in frames[0]:
        out["vertex_offsets"] = frames[0]["vertex_offsets"]
    return out


def _model_parents(parts: RigParts) -> list[int]:
    """Model parent of each joint, from the bone hierarchy (control -> DEF-parent -> control parent)."""
    names = parts.joint_names
    index = {name: j for j, name in enumerate(names)}
    bones = parts.armature.data.bones  # type: ignore[union-attr,attr-defined]
    parents = []
    for name in names:
        parent = bones[name].parent
        if parent is None:
            parents.append(-1)
        else:
            parents.append(index[parent.name.removeprefix(naming.DEFORM_PREFIX)])
    return parents
