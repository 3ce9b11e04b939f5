"""The free stand-in rigs built from Anny: FLAME-format, SMPL-X-format and SMPL-H-format files.

Run ``python -m training.standins [--out DIR]``; see README.md ("Free stand-in rigs") for what the
files hold and their limits, and core/rig/standins.py for the names the add-on looks up.
"""
