"""What animation settings objects keep in the .blend.

``Object.gavatar_retarget`` (on the armature that receives motion): the source armature, the bone
map (editable: one row per canonical joint with the source and target bone names) and how root
motion transfers. ``Object.gavatar_animate`` (on a rig's armature): panel state and the pose
library. ``PoseBone.gavatar_angles``: the pitch / yaw / roll degree controls (not stored).
"""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)
from bpy.types import Object, PropertyGroup

from ...core.motion import bone_maps
from ...engine.registrar import class_registrar
from ..rig import training_range
from ..rig.parts import find_rig
from . import joint_angles
from .pose_library import PART_ITEMS

ROOT_MOTION_ITEMS = [
    ("SCALED", "Scaled", "Root motion scaled by the ratio of the two skeletons' leg lengths"),
    ("FULL", "Unscaled", "Root motion as the source moves, metre for metre"),
    ("NONE", "None", "No root motion: the target stays where it is"),
]
PRESET_ITEMS = [("AUTO", "Detect", "Detect the naming convention from the bone names")] + [
    (key, label, f"Bone names of the {label} convention") for key, label in bone_maps.PRESET_LABELS.items()
]


def _is_armature(_self: PropertyGroup, obj: Object) -> bool:
    return obj.type == "ARMATURE"


class GAVATAR_BonePair(PropertyGroup):
    """One mapped joint: the canonical joint name (``name``), its source and target bones."""

    source: StringProperty(name="Source Bone", description="Bone of the source armature")  # type: ignore[valid-type]
    target: StringProperty(name="Target Bone", description="Bone of this armature")  # type: ignore[valid-type]
    enabled: BoolProperty(name="Use", description="Retarget this bone", default=True)  # type: ignore[valid-type]


class GAVATAR_RetargetSettings(PropertyGroup):
    source: PointerProperty(  # type: ignore[valid-type]
        name="Source", description="Armature whose motion this armature takes", type=Object, poll=_is_armature
    )
    source_preset: EnumProperty(name="Source Names", items=PRESET_ITEMS, default="AUTO")  # type: ignore[valid-type]
    target_preset: EnumProperty(name="Target Names", items=PRESET_ITEMS, default="AUTO")  # type: ignore[valid-type]
    pairs: CollectionProperty(type=GAVATAR_BonePair)  # type: ignore[valid-type]
    active_pair: IntProperty(name="Active Pair")  # type: ignore[valid-type]
    root_motion: EnumProperty(name="Root Motion", items=ROOT_MOTION_ITEMS, default="SCALED")  # type: ignore[valid-type]
    show_map: BoolProperty(name="Bone Map", description="Show the bone map")  # type: ignore[valid-type]


class GAVATAR_LibraryPose(PropertyGroup):
    """One pose of the rig's library (``name``): what it covers and its contents (JSON, see
    blender/animate/pose_library.py)."""

    part: EnumProperty(name="Part", items=PART_ITEMS, default="FACE")  # type: ignore[valid-type]
    data: StringProperty(name="Contents", options={"HIDDEN"})  # type: ignore[valid-type]


def _apply_slider_ranges(self: PropertyGroup, _context: bpy.types.Context) -> None:
    owner = self.id_data
    parts = find_rig(owner) if isinstance(owner, Object) else None
    if parts is not None:
        training_range.apply_slider_ranges(parts)


class GAVATAR_AnimateSettings(PropertyGroup):
    limit_to_training: BoolProperty(  # type: ignore[valid-type]
        name="Keep in Training Range",
        description=(
            "Hold the angle and expression sliders inside what the bound avatar was trained on "
            "(off: the full ranges, for the range guard to handle)"
        ),
        default=True,
        update=_apply_slider_ranges,
    )
    poses: CollectionProperty(type=GAVATAR_LibraryPose)  # type: ignore[valid-type]
    active_pose: IntProperty(name="Active Pose")  # type: ignore[valid-type]
    new_pose_name: StringProperty(name="Name", description="Name to save the current pose under")  # type: ignore[valid-type]
    new_pose_part: EnumProperty(name="Part", items=PART_ITEMS, default="FACE")  # type: ignore[valid-type]
    pose_weight: FloatProperty(  # type: ignore[valid-type]
        name="Blend",
        description="How far to move towards the library pose (1: all the way)",
        default=1.0,
        min=0.0,
        max=1.0,
        subtype="FACTOR",
    )
    show_library: BoolProperty(name="Pose Library", default=False)  # type: ignore[valid-type]
    expression_filter: StringProperty(  # type: ignore[valid-type]
        name="Filter",
        description="Show only the expressions whose name contains this text",
        options={"TEXTEDIT_UPDATE"},
    )
    show_face: BoolProperty(name="Face", default=True)  # type: ignore[valid-type]
    show_body: BoolProperty(name="Body", default=True)  # type: ignore[valid-type]
    show_expressions: BoolProperty(name="Expressions", default=True)  # type: ignore[valid-type]


_register_classes, _unregister_classes = class_registrar(
    (GAVATAR_BonePair, GAVATAR_RetargetSettings, GAVATAR_LibraryPose, GAVATAR_AnimateSettings)
)


def register() -> None:
    _register_classes()
    bpy.types.Object.gavatar_retarget = PointerProperty(type=GAVATAR_RetargetSettings)  # type: ignore[attr-defined,func-returns-value]
    bpy.types.Object.gavatar_animate = PointerProperty(type=GAVATAR_AnimateSettings)  # type: ignore[attr-defined,func-returns-value]
    bpy.types.PoseBone.gavatar_angles = joint_angles.angle_property()  # type: ignore[attr-defined]


def unregister() -> None:
    del bpy.types.PoseBone.gavatar_angles  # type: ignore[attr-defined]
    del bpy.types.Object.gavatar_animate  # type: ignore[attr-defined]
    del bpy.types.Object.gavatar_retarget  # type: ignore[attr-defined]
    _unregister_classes()
