"""The bpy-free parts of the built-in synthetic datasets: camera layouts, scripted performances,
face regions and skin strain (numpy)."""
