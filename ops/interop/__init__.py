"""Interop operators: GaussianAvatars import, PLY sequence export, glTF + sidecar export/import.
Each module registers its own classes; ops/__init__.py lists them with the other operator modules."""
