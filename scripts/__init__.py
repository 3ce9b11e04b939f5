"""Developer and demo commands (not shipped in the extension)."""
