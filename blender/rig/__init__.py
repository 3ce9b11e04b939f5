"""FLAME / SMPL-X rigs in Blender: build from a RigModel, find the parts, read and write parameters.

Public API (other parts call these; all take/return ``parts.RigParts``):
- ``build.build_rig(model, context, *, name, num_shape, num_expression, correctives, model_path,
  parent_collection) -> RigParts``: armature + driver mesh + joint mesh in a new collection.
- ``parts.find_rig(obj)`` / ``parts.active_rig(context) -> RigParts | None``: the rig any of its
  objects (armature, driver mesh, joint mesh) belongs to; ``RigParts.info`` holds family, gender,
  model name/path/sha256, key counts, joint and readable expression names.
- ``pose_io.write_pose(parts, inputs, keyframe=..., frame_start=..., frame_numbers=...)``,
  ``pose_io.read_pose(parts, depsgraph)``, ``pose_io.read_sequence(parts, scene, start, end)``:
  forward inputs (``core.rig.lbs.forward`` arguments; leading frame axis = sequence) <-> the rig.
- ``params_io.apply_params(parts, dataset_dict, ...)``, ``params_io.key_frames(parts, {frame: dict})``,
  ``params_io.export_params(parts, scene, frame_start=..., frame_end=...)``: dataset dictionaries
  (docs/DESIGN.md keys) through ``core.rig.params``.
- ``rest.bake_rest_joints(parts)``: move the rest bones to the current identity's joints.
- ``RigParts.info.live_correctives``: mute / unmute the driven pose-corrective keys.
blender/datasets/rig.py wraps these for the dataset import (``add_rig``, ``key_parameters``).
"""
