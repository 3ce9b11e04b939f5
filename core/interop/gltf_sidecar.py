"""The glTF + sidecar pair (bpy-free part): what the sidecar ``.gavatar`` records about the glTF
file beside it, so the importer can find the driver mesh and armature again and check them.

The sidecar is a normal ``.gavatar`` (Gaussians, binding, dynamics, identity) whose header holds a
``gltf`` section: the glTF file's name, the node names of the driver mesh and the armature, the
control joints (in the rig's order, for the dynamics' pose features), a checksum of the driver
mesh's triangles (the binding's face order), the frame range and rate, and the splat object's name.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InteropError

GLTF_KEY = "gltf"
SIDECAR_SUFFIX = ".gavatar"


@dataclass
class GltfLink:
    file: str  # the glTF file's name (same folder as the sidecar)
    mesh_node: str
    armature_node: str
    joint_names: list[str]
    faces_sha256: str
    num_vertices: int
    num_faces: int
    frame_start: int
    frame_end: int
    fps: float
    splat_name: str
    shape_keys: list[str] = field(default_factory=list)
    # Slider ranges of the shape keys (name -> [min, max]): glTF weights carry none, and Blender
    # clamps a key's value to its range, so the importer restores them.
    key_ranges: dict[str, list[float]] = field(default_factory=dict)

    def to_header(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_header(cls, header: dict[str, Any], label: str) -> GltfLink:
        data = header.get(GLTF_KEY)
        if not isinstance(data, dict):
            raise InteropError(
                f"{label} is an avatar file but no glTF sidecar (its header has no '{GLTF_KEY}')"
            )
        try:
            return cls(**data)
        except TypeError as exc:
            raise InteropError(f"{label} has an unreadable '{GLTF_KEY}' section ({exc})") from None


def faces_checksum(faces: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(faces, dtype="<i4").tobytes()).hexdigest()


def sidecar_path(gltf_path: str | Path) -> Path:
    return Path(gltf_path).with_suffix(SIDECAR_SUFFIX)
