"""``Object.gavatar_rig``: what a rig's objects know about the rig (stored in the .blend, undo-safe).

The armature holds the rig's identity (family, model name/path/checksum, key counts, readable
expression names); the driver mesh and the joint mesh point back at their armature. ID pointers
survive undo, save/load and renaming, unlike names or Python references.
"""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)
from bpy.types import Collection, Context, Object, PropertyGroup

from ...engine.registrar import class_registrar

ROLE_ITEMS = [
    ("NONE", "None", "Not part of a rig"),
    ("ARMATURE", "Armature", "The rig's armature: control bones and the rig's identity"),
    ("MESH", "Driver Mesh", "The model's mesh, skinned by the armature, with shape keys"),
    ("JOINTS", "Joint Mesh", "Hidden helper: how shape and expression move each joint"),
]


class GAVATAR_RigName(PropertyGroup):
    """One readable name (PropertyGroup's own ``name``)."""


def _set_live_correctives(self: GAVATAR_RigInfo, _context: Context) -> None:
    """Mutes or unmutes the pose-corrective keys and their drivers (muted keys cost nothing to play)."""
    from .correctives_switch import set_correctives_live

    armature = self.id_data
    if isinstance(armature, Object):
        set_correctives_live(armature, bool(self.live_correctives))


class GAVATAR_RigInfo(PropertyGroup):
    role: EnumProperty(name="Role", items=ROLE_ITEMS, default="NONE")  # type: ignore[valid-type]
    armature: PointerProperty(name="Armature", type=Object)  # type: ignore[valid-type]
    mesh: PointerProperty(name="Driver Mesh", type=Object)  # type: ignore[valid-type]
    joints: PointerProperty(name="Joint Mesh", type=Object)  # type: ignore[valid-type]
    collection: PointerProperty(name="Collection", type=Collection)  # type: ignore[valid-type]
    family: StringProperty(name="Family", description="FLAME, SMPLX or SMPLH")  # type: ignore[valid-type]
    gender: StringProperty(name="Gender")  # type: ignore[valid-type]
    model_name: StringProperty(name="Model", description="File name of the model the rig was built from")  # type: ignore[valid-type]
    model_path: StringProperty(name="Model Path", subtype="FILE_PATH")  # type: ignore[valid-type]
    model_sha256: StringProperty(name="Model SHA-256")  # type: ignore[valid-type]
    num_shape: IntProperty(name="Shape Keys", min=0)  # type: ignore[valid-type]
    model_num_shape: IntProperty(name="Model Shape Components", min=0)  # type: ignore[valid-type]
    model_num_expression: IntProperty(name="Model Expression Components", min=0)  # type: ignore[valid-type]
    num_expression: IntProperty(name="Expression Keys", min=0)  # type: ignore[valid-type]
    has_correctives: BoolProperty(name="Pose Correctives")  # type: ignore[valid-type]
    live_correctives: BoolProperty(  # type: ignore[valid-type]
        name="Live Correctives",
        description="Evaluate the pose-corrective keys while posing and playing (off: faster, less exact)",
        default=True,
        update=_set_live_correctives,
    )
    joint_names: CollectionProperty(type=GAVATAR_RigName)  # type: ignore[valid-type]
    expression_names: CollectionProperty(type=GAVATAR_RigName)  # type: ignore[valid-type]
    auto_rest: BoolProperty(  # type: ignore[valid-type]
        name="Auto Rest Joints",
        description="Move the rest bones to the shaped joints shortly after Shape keys change",
        default=True,
    )
    show_expressions: BoolProperty(name="Expressions", description="Show the expression sliders")  # type: ignore[valid-type]
    show_shape: BoolProperty(name="Shape", description="Show the shape sliders")  # type: ignore[valid-type]


_register_classes, _unregister_classes = class_registrar((GAVATAR_RigName, GAVATAR_RigInfo))


def register() -> None:
    _register_classes()
    bpy.types.Object.gavatar_rig = PointerProperty(type=GAVATAR_RigInfo)  # type: ignore[attr-defined,func-returns-value]


def unregister() -> None:
    del bpy.types.Object.gavatar_rig  # type: ignore[attr-defined]
    _unregister_classes()
