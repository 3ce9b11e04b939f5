"""Interop in Blender: GaussianAvatars results in, PLY sequences and glTF pairs out and back."""
