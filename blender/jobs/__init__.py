"""Training jobs seen from Blender: the session's job manager, its timer, and importing a finished
training into the scene."""
