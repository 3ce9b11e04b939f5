"""Interoperability with other tools, bpy-free: GaussianAvatars results in, avatars out (3DGS PLY
sequences, glTF sidecars)."""
