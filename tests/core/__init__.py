"""Tests of core/ (the layout: tests/README.md)."""
