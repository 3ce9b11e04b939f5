"""Names of the rig's bones, shape keys and collections: the stable contract scripts rely on (bpy-free).

- Control bones carry the model's joint names (``pelvis``, ``left_hip``... / ``root``, ``neck``, ``jaw``...),
  as the SMPL-X and FLAME Blender add-ons name them; the animator rotates these.
- Each control bone has a hidden deforming child ``DEF-<joint>``; the driver mesh's vertex groups are
  named after these (Rigify's convention for deform bones).
- Shape keys: ``Shape000..`` (identity), ``Exp000..`` (expression; readable names live in the rig's
  properties), ``StaticOffset`` (per-vertex identity offsets, when given), and the pose correctives
  ``Pose.<joint>.<r><c>``: entry (r, c) of the control bone's local rotation minus identity.
"""

from __future__ import annotations

DEFORM_PREFIX = "DEF-"
STATIC_OFFSET_KEY = "StaticOffset"
BASIS_KEY = "Basis"
CONTROL_COLLECTION = "Joints"
MECHANISM_COLLECTION = "Mechanism"
JOINT_SHIFT_CONSTRAINT = "Joint Shift"


def shape_key(index: int) -> str:
    return f"Shape{index:03d}"


def expression_key(index: int) -> str:
    return f"Exp{index:03d}"


def deform_bone(joint: str) -> str:
    return DEFORM_PREFIX + joint


def corrective_key(joint: str, row: int, column: int) -> str:
    return f"Pose.{joint}.{row}{column}"


def family_label(family: str) -> str:
    return {"FLAME": "FLAME", "SMPLX": "SMPL-X", "SMPLH": "SMPL-H"}.get(family, family)
