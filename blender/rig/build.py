"""Builds a FLAME / SMPL-X rig in Blender from a RigModel: armature, driver mesh, joint mesh.

How the pieces reproduce ``core.rig.lbs.forward`` exactly:

- The armature object carries the Y-up -> Z-up turn (90 degrees about X); bone rest data, the driver
  mesh and the joint mesh are in model coordinates (metres), each child with an identity transform.
- Control bone ``j`` sits at the rest joint with orientation ``B_j``; its deforming child ``DEF-j``
  has the same rest. Model rotation ``R_j = B_j R_local B_j^T`` (core.rig.bone_frames).
- Shape keys on the driver mesh hold identity (``Shape###``), expression (``Exp###``) and pose
  correctives (``Pose.<joint>.<r><c>``, driven from the control bone's local rotation).
- Shape and expression also move the joints (the regressor sees the shaped mesh). The joint mesh has
  one vertex per joint whose shape keys hold ``B_j^T J_regressor @ dirs`` (copied values driven from
  the driver mesh's keys), so vertex j is the joint's shift ``delta_j`` in bone axes. A Copy
  Location constraint adds it to control bone j (a pre-rotation shift) and subtracts it on ``DEF-j``
  (post-rotation), so the deforming bone rotates about ``J_j + delta_j``, as the forward does.
  Everything updates live while scrubbing, with no Python in the loop.
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np
from bpy.types import Collection, Context, Object
from mathutils import Matrix

from ...core.motion import arkit
from ...core.rig import bone_frames
from ...core.rig.model import RigModel
from . import drivers, mesh_data, naming
from .parts import RigParts, rig_info

ARKIT_WEIGHT_RANGE = (0.0, 1.0)  # an ARKit blendshape weight: 0 neutral, 1 the full action
SHAPE_SLIDER = 10.0  # Blender's largest slider range; identity and expression coefficients stay within it
CORRECTIVE_SLIDER = 2.0  # entries of R - I lie in [-2, 2]
# Keys whose largest displacement is below this (metres) change nothing and are not made.
NEGLIGIBLE = 1e-9
REGRESSOR_PROP = "gavatar_joint_regressor"


def _select_only(context: Context, obj: Object) -> None:
    for other in context.view_layer.objects.selected:
        other.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj


def _ensure_object_mode(context: Context) -> None:
    if context.mode != "OBJECT" and context.active_object is not None:
        bpy.ops.object.mode_set(mode="OBJECT")


def _create_bones(
    context: Context,
    armature: Object,
    joint_names: tuple[str, ...],
    parents: np.ndarray,
    rest_joints: np.ndarray,
) -> None:
    heads, tails, frames = bone_frames.bone_layout(rest_joints, parents, joint_names)
    data = armature.data
    assert isinstance(data, bpy.types.Armature)
    controls = data.collections.new(naming.CONTROL_COLLECTION)
    mechanism = data.collections.new(naming.MECHANISM_COLLECTION)
    mechanism.is_visible = False
    _select_only(context, armature)
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        deform_bones: list[bpy.types.EditBone] = []
        for j, name in enumerate(joint_names):
            length = float(np.linalg.norm(tails[j] - heads[j]))
            matrix = Matrix(
                np.block([[frames[j], heads[j][:, None]], [np.zeros((1, 3)), np.ones((1, 1))]]).tolist()
            )
            control = data.edit_bones.new(name)
            deform = data.edit_bones.new(naming.deform_bone(name))
            for bone in (control, deform):
                bone.head = (0.0, 0.0, 0.0)
                bone.tail = (0.0, length, 0.0)
                bone.matrix = matrix
                bone.use_connect = False
            control.use_deform = False
            deform.use_deform = True
            deform.parent = control
            if parents[j] >= 0:
                control.parent = deform_bones[int(parents[j])]
            controls.assign(control)
            mechanism.assign(deform)
            deform_bones.append(deform)
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")


def bone_rest_frames(
    armature: Object, joint_names: list[str] | tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Rest heads (J,3) and orientations B (J,3,3) of the control bones, in model coordinates."""
    bones = armature.data.bones  # type: ignore[union-attr,attr-defined]
    heads = np.array([bones[name].head_local for name in joint_names], dtype=np.float64)
    frames = np.array([np.array(bones[name].matrix_local)[:3, :3] for name in joint_names], dtype=np.float64)
    return heads, frames


def store_regressor(joints: Object, regressor: np.ndarray) -> None:
    """The joint regressor, sparse (CSR, float32), on the joint mesh: static offsets need it later."""
    dense = np.asarray(regressor, dtype=np.float64)
    rows, cols = np.nonzero(dense)
    indptr = np.searchsorted(rows, np.arange(dense.shape[0] + 1)).astype(np.int32)
    joints.data[REGRESSOR_PROP] = {  # type: ignore[index]
        "shape": np.array(dense.shape, dtype=np.int32),
        "indptr": indptr,
        "indices": cols.astype(np.int32),
        "values": dense[rows, cols].astype(np.float32),
    }


def stored_regressor(joints: Object) -> np.ndarray | None:
    group = joints.data.get(REGRESSOR_PROP)  # type: ignore[union-attr]
    if group is None:
        return None
    num_rows, num_cols = (int(x) for x in group["shape"])
    indptr = np.array(group["indptr"], dtype=np.int64)
    out = np.zeros((num_rows, num_cols))
    rows = np.repeat(np.arange(num_rows), np.diff(indptr))
    out[rows, np.array(group["indices"], dtype=np.int64)] = np.array(group["values"], dtype=np.float64)
    return out


def _add_joint_shift_constraints(armature: Object, joints: Object, joint_names: tuple[str, ...]) -> None:
    pose = armature.pose
    assert pose is not None
    for j, name in enumerate(joint_names):
        control = pose.bones[name]
        deform = pose.bones[naming.deform_bone(name)]
        for bone, invert in ((control, False), (deform, True)):
            con = bone.constraints.new("COPY_LOCATION")
            assert isinstance(con, bpy.types.CopyLocationConstraint)
            con.name = naming.JOINT_SHIFT_CONSTRAINT
            con.target = joints
            con.subtarget = name
            con.owner_space = "LOCAL"
            con.target_space = "LOCAL"
            con.use_offset = not invert
            con.invert_x = con.invert_y = con.invert_z = invert
        control.rotation_mode = "QUATERNION"
        if j > 0:
            control.lock_location = (True, True, True)
        deform.lock_location = deform.lock_scale = (True, True, True)
        deform.lock_rotation = (True, True, True)
        deform.lock_rotation_w = True


def _build_joint_mesh(
    name: str,
    armature: Object,
    collection: Collection,
    joint_names: tuple[str, ...],
    frames: np.ndarray,
    rest_offset: np.ndarray,
    shape_moves: np.ndarray,
    expression_moves: np.ndarray,
    driver_mesh: Object,
    regressor: np.ndarray,
) -> Object:
    """One vertex per joint: its shift in bone axes, as shape keys copied from the driver mesh's."""
    num = len(joint_names)
    to_bone = frames.transpose(0, 2, 1)  # B^T, per joint
    basis = np.einsum("jab,jb->ja", to_bone, rest_offset)
    joints = bpy.data.objects.new(name, mesh_data.new_mesh(name, basis))
    collection.objects.link(joints)
    joints.parent = armature
    mesh_data.add_vertex_groups(joints, joint_names, np.eye(num))
    joints.shape_key_add(name=naming.BASIS_KEY, from_mix=False)
    source = driver_mesh.data.shape_keys  # type: ignore[union-attr]
    assert source is not None
    for moves, key_name in ((shape_moves, naming.shape_key), (expression_moves, naming.expression_key)):
        for i in range(moves.shape[2]):
            delta = np.einsum("jab,jb->ja", to_bone, moves[:, :, i])
            if np.abs(delta).max(initial=0.0) < NEGLIGIBLE:
                continue
            key = mesh_data.add_shape_key(joints, key_name(i), basis, delta, SHAPE_SLIDER)
            drivers.drive_copy(key, source, f'key_blocks["{key_name(i)}"].value')
    store_regressor(joints, regressor)
    joints.hide_render = True
    joints.hide_select = True
    joints.lock_location = joints.lock_rotation = joints.lock_scale = (True, True, True)
    info = rig_info(joints)
    info.role = "JOINTS"
    info.armature = armature
    return joints


def _add_correctives(
    driver_mesh: Object, armature: Object, model: RigModel, frames: np.ndarray, basis: np.ndarray
) -> int:
    """Pose-corrective keys driven from the control bones' rotations; returns how many were made."""
    if model.pose_dirs.size == 0:
        return 0
    per_entry = bone_frames.correctives_in_bone_frames(model.pose_dirs, frames)  # (V,3,J-1,3,3)
    made = 0
    for j in range(1, model.num_joints):
        joint = model.joint_names[j]
        for row in range(3):
            for column in range(3):
                delta = per_entry[:, :, j - 1, row, column]
                if np.abs(delta).max(initial=0.0) < NEGLIGIBLE:
                    continue
                key = mesh_data.add_shape_key(
                    driver_mesh, naming.corrective_key(joint, row, column), basis, delta, CORRECTIVE_SLIDER
                )
                drivers.drive_rotation_entry(key, armature, joint, row, column)
                made += 1
    return made


def build_rig(
    model: RigModel,
    context: Context | None = None,
    *,
    name: str = "",
    num_shape: int | None = None,
    num_expression: int | None = None,
    correctives: bool = True,
    model_path: str = "",
    parent_collection: Collection | None = None,
) -> RigParts:
    """Creates the rig in a new collection and makes its armature active.

    num_shape / num_expression: how many identity / expression keys to make (None: all the model has).
    correctives: make the driven pose-corrective keys (the forward includes them; leave them out only
    to trade accuracy for speed). On any failure everything created so far is removed again.
    """
    ctx = context or bpy.context
    _ensure_object_mode(ctx)
    before = {name: set(getattr(bpy.data, name)) for name in _CREATED_KINDS}
    try:
        return _build(ctx, model, name, num_shape, num_expression, correctives, model_path, parent_collection)
    except BaseException:
        if ctx.mode != "OBJECT":
            bpy.ops.object.mode_set(mode="OBJECT")
        for kind in _CREATED_KINDS:
            store = getattr(bpy.data, kind)
            for block in set(store) - before[kind]:
                store.remove(block)
        raise


_CREATED_KINDS = ("objects", "meshes", "armatures", "collections", "actions")


def _build(
    ctx: Context,
    model: RigModel,
    name: str,
    num_shape: int | None,
    num_expression: int | None,
    correctives: bool,
    model_path: str,
    parent_collection: Collection | None,
) -> RigParts:
    label = name or naming.family_label(model.family)
    n_shape = model.num_shape if num_shape is None else min(max(num_shape, 0), model.num_shape)
    n_expr = (
        model.num_expression if num_expression is None else min(max(num_expression, 0), model.num_expression)
    )

    collection = bpy.data.collections.new(label)
    (parent_collection or ctx.scene.collection).children.link(collection)

    armature_data = bpy.data.armatures.new(label)
    armature_data.display_type = "OCTAHEDRAL"
    armature = bpy.data.objects.new(label, armature_data)
    collection.objects.link(armature)
    armature.rotation_mode = "XYZ"
    armature.rotation_euler = (math.pi / 2.0, 0.0, 0.0)  # model Y-up -> Blender Z-up
    armature.show_in_front = True

    template_joints, shape_moves, expression_moves = bone_frames.joint_blendshapes(model)
    _create_bones(ctx, armature, model.joint_names, model.parents, template_joints)
    rest_heads, frames = bone_rest_frames(armature, model.joint_names)

    mesh = mesh_data.new_mesh(f"{label} Mesh", model.v_template, model.faces)
    driver_mesh = bpy.data.objects.new(f"{label} Mesh", mesh)
    collection.objects.link(driver_mesh)
    driver_mesh.parent = armature
    mesh_data.add_vertex_groups(
        driver_mesh, [naming.deform_bone(n) for n in model.joint_names], model.weights
    )
    modifier = driver_mesh.modifiers.new("Armature", "ARMATURE")
    assert isinstance(modifier, bpy.types.ArmatureModifier)
    modifier.object = armature
    modifier.use_vertex_groups = True
    modifier.use_bone_envelopes = False
    modifier.use_deform_preserve_volume = False

    basis = model.v_template
    driver_mesh.shape_key_add(name=naming.BASIS_KEY, from_mix=False)
    for i in range(n_shape):
        mesh_data.add_shape_key(
            driver_mesh, naming.shape_key(i), basis, model.shape_dirs[:, :, i], SHAPE_SLIDER
        )
    for i in range(n_expr):
        block = mesh_data.add_shape_key(
            driver_mesh, naming.expression_key(i), basis, model.expr_dirs[:, :, i], SHAPE_SLIDER
        )
        name = model.expression_names[i] if i < len(model.expression_names) else ""
        if arkit.canonical_name(name) is not None:  # ARKit weights mean 0..1 (blender/rig/training_range.py)
            block.slider_min, block.slider_max = ARKIT_WEIGHT_RANGE

    joints = _build_joint_mesh(
        f"{label} Joints",
        armature,
        collection,
        model.joint_names,
        frames,
        template_joints - rest_heads,
        shape_moves[:, :, :n_shape],
        expression_moves[:, :, :n_expr],
        driver_mesh,
        model.joint_regressor,
    )
    _add_joint_shift_constraints(armature, joints, model.joint_names)
    made = _add_correctives(driver_mesh, armature, model, frames, basis) if correctives else 0

    info = rig_info(armature)
    info.role = "ARMATURE"
    info.armature = armature
    info.mesh = driver_mesh
    info.joints = joints
    info.collection = collection
    info.family = model.family
    info.gender = model.gender
    info.model_name = model.source_name or (Path(model_path).name if model_path else "")
    info.model_path = model_path
    info.model_sha256 = model.source_sha256
    info.num_shape = n_shape
    info.num_expression = n_expr
    info.model_num_shape = model.num_shape
    info.model_num_expression = model.num_expression
    info.has_correctives = made > 0
    for joint in model.joint_names:
        info.joint_names.add().name = joint
    for i in range(n_expr):
        readable = model.expression_names[i] if i < len(model.expression_names) else naming.expression_key(i)
        info.expression_names.add().name = readable
    mesh_info = rig_info(driver_mesh)
    mesh_info.role = "MESH"
    mesh_info.armature = armature

    _select_only(ctx, armature)
    return RigParts(armature=armature, mesh=driver_mesh, joints=joints, collection=collection)
