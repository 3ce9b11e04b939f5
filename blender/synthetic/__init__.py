"""The built-in synthetic dataset: the stand-in rigs rendered by Blender (Cycles) from a ring of
cameras through a scripted performance. ``scripts/make_synthetic.py`` is the command; the modules
here build the scene (scene.py, materials.py; the head's capture look: capture.py,
capture_materials.py), place the cameras (layout.py), script the
performance (motion.py) and find the face and clothing regions on the mesh (regions.py).
motion.py, layout.py and regions.py do not need bpy."""
