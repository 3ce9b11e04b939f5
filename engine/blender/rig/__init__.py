"""FLAME / SMPL-X rigs in Blender: build from a RigModel, find the parts, read and write parameters.

Public API (other parts call these):
- ``build_rig(model, context, ...) -> RigParts``: armature + driver mesh + joint mesh in a new collection.
- ``find_rig(obj) -> RigParts | None`` / ``active_rig(context)``: the rig any of its objects belongs to.
- ``write_pose(parts, inputs, keyframe=..., frame_start=...)`` / ``read_pose(parts, depsgraph)`` /
  ``read_sequence(parts, scene, start, end)``: forward inputs (engine.rig.lbs) <-> the rig.
- ``bake_rest_joints(parts)``: move the armature's rest pose to the joints of the current shape.
"""
