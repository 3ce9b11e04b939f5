"""Tests of blender/animate: AMASS, ARKit, reenactment, keyframe controls, retargeting."""
