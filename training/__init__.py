"""The standalone Gaussian avatar trainer (torch + gsplat). Never imported inside Blender.

Run as ``python -m training <command>`` with the extension (or repository) root on PYTHONPATH.
"""
