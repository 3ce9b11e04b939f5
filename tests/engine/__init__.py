"""Tests of engine/ (the layout: tests/README.md)."""
