"""What one GAVATAR image draws: scene meshes, then splat objects."""
