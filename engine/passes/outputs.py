"""Which of Blender's render passes the GAVATAR engine writes, and which it cannot.

Every pass a view layer enables either comes out of the render or is named in a warning: none
goes missing in silence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bpy.types import ViewLayer


@dataclass(frozen=True)
class PassSpec:
    flag: str  # the ViewLayer property that enables it
    name: str  # the render result's pass name
    channels: int
    chan_id: str
    kind: Literal["VALUE", "VECTOR", "COLOR"]


SUPPORTED = (
    PassSpec("use_pass_z", "Depth", 1, "Z", "VALUE"),
    PassSpec("use_pass_mist", "Mist", 1, "Z", "VALUE"),
    PassSpec("use_pass_normal", "Normal", 3, "XYZ", "VECTOR"),
    PassSpec("use_pass_object_index", "IndexOB", 1, "X", "VALUE"),
    PassSpec("use_pass_vector", "Vector", 4, "XYZW", "VECTOR"),
)

# Passes a view layer can enable that need light transport or data the Gaussians do not have.
UNSUPPORTED = {
    "use_pass_uv": "UV",
    "use_pass_position": "Position",
    "use_pass_material_index": "Material Index",
    "use_pass_ambient_occlusion": "Ambient Occlusion",
    "use_pass_emit": "Emission",
    "use_pass_environment": "Environment",
    "use_pass_shadow": "Shadow",
    "use_pass_diffuse_direct": "Diffuse Direct",
    "use_pass_diffuse_indirect": "Diffuse Indirect",
    "use_pass_diffuse_color": "Diffuse Color",
    "use_pass_glossy_direct": "Glossy Direct",
    "use_pass_glossy_indirect": "Glossy Indirect",
    "use_pass_glossy_color": "Glossy Color",
    "use_pass_transmission_direct": "Transmission Direct",
    "use_pass_transmission_indirect": "Transmission Indirect",
    "use_pass_transmission_color": "Transmission Color",
    "use_pass_subsurface_direct": "Subsurface Direct",
    "use_pass_subsurface_indirect": "Subsurface Indirect",
    "use_pass_subsurface_color": "Subsurface Color",
    "use_pass_cryptomatte_object": "Cryptomatte Object",
    "use_pass_cryptomatte_material": "Cryptomatte Material",
    "use_pass_cryptomatte_asset": "Cryptomatte Asset",
}


def enabled(view_layer: ViewLayer | None) -> list[PassSpec]:
    if view_layer is None:
        return []
    return [spec for spec in SUPPORTED if getattr(view_layer, spec.flag, False)]


def unsupported(view_layer: ViewLayer | None) -> list[str]:
    """Names of the passes view_layer enables that this engine does not write."""
    if view_layer is None:
        return []
    return [name for flag, name in UNSUPPORTED.items() if getattr(view_layer, flag, False)]


def unsupported_message(names: list[str]) -> str:
    return "The Gaussian Avatar engine does not write the " + ", ".join(names) + " pass(es); left out"
