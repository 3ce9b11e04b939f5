"""Tests of blender/ (the layout: tests/README.md)."""
