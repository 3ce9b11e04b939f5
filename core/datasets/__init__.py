"""Dataset readers (bpy-free, torch-free): one module per public format, all producing the same
``Dataset`` of ``Frame``s with OpenCV cameras, pixel intrinsics and per-timestep rig parameters.

    from core.datasets import open_dataset, load_image, load_mask, DatasetError
    ds = open_dataset("/data/nersemble_306")          # format detected from the folder
    for frame in ds.split("train"):
        rgb = load_image(frame.image_path)            # decoding happens only here (needs Pillow)
"""

from .camera import Camera
from .errors import DatasetError
from .frames import SPLITS, Dataset, Frame
from .image_io import image_size, load_image, load_mask, load_rgba
from .options import ReadOptions
from .registry import FORMAT_LABELS, READERS, SEQUENCE_FORMATS, detect_format, open_dataset

__all__ = [
    "FORMAT_LABELS",
    "READERS",
    "SEQUENCE_FORMATS",
    "SPLITS",
    "Camera",
    "Dataset",
    "DatasetError",
    "Frame",
    "ReadOptions",
    "detect_format",
    "image_size",
    "load_image",
    "load_mask",
    "load_rgba",
    "open_dataset",
]
