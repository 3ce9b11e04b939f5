"""The one error the interop readers and writers raise."""

from __future__ import annotations


class InteropError(ValueError):
    """Files from or for another tool that cannot be used; the message is one sentence for the user."""
