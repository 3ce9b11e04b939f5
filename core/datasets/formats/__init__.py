"""One reader per public dataset format (docs/FORMATS.md), each producing the frames of core/datasets."""
