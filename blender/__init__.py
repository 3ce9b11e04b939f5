"""Blender-side features that are neither render engine nor shell: rigs, animation and
retargeting, dataset scenes, avatar import/export, interop, training-job and farm runtimes,
synthetic dataset scenes. Imports engine/ and core/, never addon/ or ops/."""
