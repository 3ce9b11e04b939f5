"""Tests of core/motion."""
