"""Reading files we did not write: one layer every importer and the trainer's readers go through.

``files`` opens only regular files and bounds their size, ``npz`` checks each array's header
before inflating it, ``json_text`` bounds nesting and size, ``arrays`` turns values into arrays of a
declared dtype, shape and finite plausible range, ``numbers`` bounds frame rates, frame counts and
durations, ``names`` reads frame numbers from file names. Every failure is an ``InputError`` (one
phrase); ``errors.reading`` turns it into the importer's own error with the file name.
"""

from __future__ import annotations

from .errors import DAMAGED, InputError, display_name, reading

__all__ = ["DAMAGED", "InputError", "display_name", "reading"]
