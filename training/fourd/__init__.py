"""4D Gaussian sequences without a rig: canonical Gaussians moved by a factorised deformation field
of time, trained from D-NeRF-style datasets (``python -m training fit --rig none``)."""
