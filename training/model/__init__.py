"""The trainable avatar: Gaussians bound to rig triangles, their dynamic blendshapes, and the
per-timestep refinement of the tracked rig parameters (kept apart from the avatar's identity)."""
