"""GPU plumbing of the engine: typed access to the gpu module, array <-> texture uploads, contexts,
a splat object's GPU buffers and the compute-shader deformation."""
