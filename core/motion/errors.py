"""The one error motion readers raise."""

from __future__ import annotations


class MotionFileError(ValueError):
    """A motion file that cannot be used; the message is one sentence for the user."""
