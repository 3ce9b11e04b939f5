"""``python -m training track``: a video or capture folder in, a tracked FLAME dataset (GaussianAvatars
layout) out. landmarks.py (mediapipe models), correspondence.py (landmarks on the rig's mesh),
raster.py / shading.py (CPU renders of a rig), sources.py (frames and cameras in), fitter.py
(torch fit), output.py (the dataset), command.py (the subcommand)."""
