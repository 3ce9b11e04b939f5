"""Tests of training/ (the layout: tests/README.md)."""
