"""The standalone Gaussian avatar trainer (torch + gsplat). Never imported inside Blender.

Run as ``python -m training <command>`` with the extension (or repository) root on PYTHONPATH.
See training/README.md for the command line, the progress protocol and the exit codes.
"""

__version__ = "0.1.0"
