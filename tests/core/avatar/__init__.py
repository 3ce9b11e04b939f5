"""Tests of core/avatar."""
