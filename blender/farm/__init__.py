"""Distributed renders from the open file: launch, the worker inside background Blenders, and the
runtime that drives them from the open Blender."""
