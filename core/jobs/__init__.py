"""Training jobs, bpy-free: what the add-on needs to run ``python -m training fit`` beside Blender.

- ``settings``: the user's training settings and presets -> the trainer's command line
- ``process``: one trainer subprocess, its stdout lines on a queue (reader threads), stderr tail
- ``events``: the JSON-lines protocol (training/README.md) parsed into events
- ``job``: one training's state, progress and history, updated from events and the exit code
- ``outcomes``: exit codes and error events -> messages a user can act on
- ``manager``: the queue of jobs, started as slots free up, stopped cleanly on exit
- ``preflight``: checks before a start (trainer Python, output folder, free disk space)
- ``plot``: the loss / PSNR plot as RGBA pixels (numpy)
- ``setup``: creating and checking the trainer's Python environment

The Blender side (addon/training_*.py, ops/train.py) only mirrors these into properties and UI.
"""
