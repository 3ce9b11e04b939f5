"""The drivers that keep a rig live without Python: pose correctives and joint-mesh key values.

Corrective keys are driven by one entry of ``R - I`` of a control bone's local rotation. The
variables are TRANSFORMS of the bone in local space as a quaternion, so the value follows whatever
rotation mode the animator uses and includes constraints (IK, copy rotation), exactly as the
Armature modifier sees the pose. The expressions stay within Blender's simple-expression evaluator,
which runs them in C without Python.
"""

from __future__ import annotations

from bpy.types import ID, Object, ShapeKey

from ...core.rig.bone_frames import ROTATION_MINUS_IDENTITY

_CHANNELS = {"w": "ROT_W", "x": "ROT_X", "y": "ROT_Y", "z": "ROT_Z"}


def drive_rotation_entry(key: ShapeKey, armature: Object, bone: str, row: int, column: int) -> None:
    """key.value = (R_local - I)[row, column] of the bone's evaluated local rotation."""
    driver = key.driver_add("value").driver
    driver.type = "SCRIPTED"
    expression, names = ROTATION_MINUS_IDENTITY[(row, column)]
    for name in names:
        var = driver.variables.new()
        var.name = name
        var.type = "TRANSFORMS"
        target = var.targets[0]
        target.id = armature
        target.bone_target = bone
        target.transform_type = _CHANNELS[name]
        target.rotation_mode = "QUATERNION"
        target.transform_space = "LOCAL_SPACE"
    driver.expression = expression


def drive_copy(key: ShapeKey, source: ID, data_path: str) -> None:
    """key.value = the property at data_path of source (a plain sum of one variable: no expression)."""
    driver = key.driver_add("value").driver
    driver.type = "SUM"
    var = driver.variables.new()
    var.name = "value"
    var.type = "SINGLE_PROP"
    target = var.targets[0]
    target.id_type = "KEY"
    target.id = source
    target.data_path = data_path
