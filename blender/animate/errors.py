"""The error the animation helpers raise: one sentence for the user; nothing was changed."""

from __future__ import annotations


class AnimateError(ValueError):
    """A request that cannot be carried out; the message is one sentence for the user."""
