"""Animating avatar rigs in Blender: AMASS import, retargeting between armatures, expression
reenactment, pose presets, eye targets, keyframe helpers and sequence rendering.

Public API (operators in ops/ call these; scripts may too):
- ``amass_import.import_clip(context, clip, parts, options)``
- ``retarget_bake.bake(context, source, target, pairs, frame_start, frame_end, root_motion)``
- ``reenact.apply_sequence(context, parts, sequence, options)``
- ``pose_presets.apply_preset(parts, body, hands, keyframe)`` / ``look_at.add_eye_target(...)``
- ``render_sequence.render_frames(context, ...)``
"""
