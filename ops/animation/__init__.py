"""Operators that animate rigs: AMASS import, retargeting, reenactment, ARKit curves, poses and keys,
the range guard bake."""
