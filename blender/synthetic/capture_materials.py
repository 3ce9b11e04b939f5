"""Materials of the capture look (Cycles shader nodes): what makes a real head capture hard to fit.

Skin is glossy and view-dependent (a satin specular lobe under a thin oily coat, highlights that
move with the camera), scatters light under the surface, and carries millimetre detail (pores,
freckles, moles, fine mottling, bumped so the highlights break up); hair is drawn as strands and
shaded anisotropically along them; the mouth bag is dark and wet, the tongue pink. Eyes are glossy
spheres with a cornea and a fibrous iris; teeth have gaps and gums. Like materials.py, textures
follow the ``rest`` attribute, so the detail sticks to the skin while the mesh moves.
"""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np

from ...core.synthetic.interior import IRIS_COS, TEETH
from .materials import Appearance, Graph, expression_skin, srgb_to_linear, texture

# Per-vertex masks the capture look adds to the subject mesh (core/synthetic/interior.py).
CAPTURE_MASKS = ("mouth", "tongue")
LOCAL = "local"  # the parts' own coordinates (interior.Part.local)


def _scaled(colour: tuple[float, float, float], k: float) -> tuple[float, float, float, float]:
    return srgb_to_linear(tuple(min(c * k, 1.0) for c in colour))


def _new(name: str) -> tuple[bpy.types.Material, Graph]:
    mat = bpy.data.materials.new(name)
    tree = mat.node_tree
    assert tree is not None
    tree.nodes.clear()
    return mat, Graph(tree)


def _finish(g: Graph, bsdf: Any) -> None:
    out = g.node("ShaderNodeOutputMaterial")
    g.link(bsdf, "BSDF", out, "Surface")


def build_skin(name: str, look: Appearance) -> bpy.types.Material:
    """The subject's material: skin, lips, lids, brows, hair and the mouth's inside, blended by the
    region masks (regions.py, CAPTURE_MASKS) and the expression strain (strain.py)."""
    mat, g = _new(name)
    rest = g.attribute("rest")
    masks = {n: g.attribute(n) for n in ("lips", "brows", "lids", "hair", *CAPTURE_MASKS)}
    shift = g.node("ShaderNodeVectorMath", operation="ADD")
    g.link(rest, "Vector", shift, 0)
    g.value(shift, 1, tuple(float(v) for v in np.random.default_rng([look.seed, 1]).uniform(-50, 50, 3)))

    low = texture(g, shift, "ShaderNodeTexNoise", 7.0, Detail=2.0)
    mid = texture(g, shift, "ShaderNodeTexNoise", 45.0, Detail=3.0, Roughness=0.55)
    fine = texture(g, shift, "ShaderNodeTexNoise", 350.0, Detail=2.0, Roughness=0.6)
    low_c = g.node("ShaderNodeSeparateColor")
    g.link(low, "Color", low_c, 0)
    mid_c = g.node("ShaderNodeSeparateColor")
    g.link(mid, "Color", mid_c, 0)
    pores = texture(g, shift, "ShaderNodeTexVoronoi", 900.0)
    moles = texture(g, shift, "ShaderNodeTexVoronoi", 35.0)
    freckles = texture(g, shift, "ShaderNodeTexNoise", 220.0, Detail=1.0)

    # Skin: tone, blotches, redness, fine mottling, pores, freckles, a few moles.
    base = srgb_to_linear(look.skin)
    darker = _scaled(look.skin, 0.8)
    reddish = srgb_to_linear((min(look.skin[0] * 1.1, 1.0), look.skin[1] * 0.74, look.skin[2] * 0.74))
    skin = g.mix((mid, "Fac"), darker, base)
    red_fac = g.math("MULTIPLY", (g.math("SUBTRACT", (low_c, "Red"), 0.42, clamp=True), 0), 1.8, clamp=True)
    skin = g.mix((red_fac, 0), (skin, "Result"), reddish)
    mottle = g.math("MULTIPLY", g.math("SUBTRACT", (fine, "Fac"), 0.35, clamp=True), 0.8, clamp=True)
    skin = g.mix((mottle, 0), (skin, "Result"), darker)
    pore_fac = g.math("LESS_THAN", (pores, "Distance"), 0.2)
    skin = g.mix((g.math("MULTIPLY", (pore_fac, 0), 0.35), 0), (skin, "Result"), _scaled(look.skin, 0.62))
    spotty = g.math("GREATER_THAN", (low_c, "Green"), 0.55)  # freckles gather in patches
    freckle_fac = g.math(
        "MULTIPLY", g.math("GREATER_THAN", (freckles, "Fac"), 0.63), g.math("MULTIPLY", (spotty, 0), 0.45)
    )
    skin = g.mix((freckle_fac, 0), (skin, "Result"), srgb_to_linear((0.42, 0.24, 0.14)))
    mole_fac = g.math("LESS_THAN", (moles, "Distance"), 0.035)
    skin = g.mix((mole_fac, 0), (skin, "Result"), srgb_to_linear((0.22, 0.12, 0.08)))

    # Expression creases and pallor, as in the studio look.
    skin = expression_skin(g, shift, skin, look)

    # Lips (lined), eyelid shadow, brows (fine strokes).
    lip_lines = texture(
        g, shift, "ShaderNodeTexWave", 260.0, wave_type="BANDS", bands_direction="X", Distortion=3.0
    )
    lips = g.mix((mid_c, "Green"), _scaled(look.lips, 0.8), srgb_to_linear(look.lips))
    lips = g.mix(g.math("MULTIPLY", (lip_lines, "Fac"), 0.3), (lips, "Result"), _scaled(look.lips, 0.65))
    col = g.mix((masks["lips"], "Fac"), (skin, "Result"), (lips, "Result"))
    col = g.mix((g.math("MULTIPLY", (masks["lids"], "Fac"), 0.35), 0), (col, "Result"), darker)
    strokes = texture(
        g, shift, "ShaderNodeTexWave", 220.0, wave_type="BANDS", bands_direction="X", Distortion=14.0
    )
    stroke_on = g.math("GREATER_THAN", (strokes, "Fac"), 0.3)
    stroke_fac = g.math("MULTIPLY", (masks["brows"], "Fac"), (stroke_on, 0))
    col = g.mix((stroke_fac, 0), (col, "Result"), _scaled(look.hair, 0.8))

    # Hair: strands running front to back (bands across x), two widths, tones broken by noise.
    strands = texture(g, shift, "ShaderNodeTexWave", 160.0, wave_type="BANDS", bands_direction="X",
                      Distortion=4.0, Detail=2.0)  # fmt: skip
    fine_strands = texture(g, shift, "ShaderNodeTexWave", 480.0, wave_type="BANDS", bands_direction="X",
                           Distortion=2.0)  # fmt: skip
    hair_dark = _scaled(look.hair, 0.4)
    hair_light = srgb_to_linear(tuple(min(c * 2.2 + 0.07, 1.0) for c in look.hair))
    hair = g.mix((strands, "Fac"), hair_dark, hair_light)
    hair = g.mix(g.math("MULTIPLY", (fine_strands, "Fac"), 0.6), (hair, "Result"), hair_dark)
    hair = g.mix(g.math("MULTIPLY", (mid_c, "Red"), 0.4), (hair, "Result"), hair_dark)
    col = g.mix((masks["hair"], "Fac"), (col, "Result"), (hair, "Result"))

    # The mouth's inside: a dark, wet cavity and a pink tongue.
    col = g.mix((masks["mouth"], "Fac"), (col, "Result"), srgb_to_linear((0.30, 0.07, 0.07)))
    col = g.mix((masks["tongue"], "Fac"), (col, "Result"), srgb_to_linear((0.62, 0.30, 0.30)))

    # Gloss: satin skin (oilier in patches), wet lips and mouth, matte brows, glossy hair along
    # its strands.
    rough = g.math("ADD", 0.3, g.math("MULTIPLY", (low_c, "Blue"), 0.14))
    rough = g.math("SUBTRACT", (rough, 0), g.math("MULTIPLY", (masks["lips"], "Fac"), 0.12))
    rough = g.math("SUBTRACT", (rough, 0), g.math("MULTIPLY", (masks["mouth"], "Fac"), 0.15))
    rough = g.math("ADD", (rough, 0), g.math("MULTIPLY", (stroke_fac, 0), 0.3))
    strand_gloss = g.math("MULTIPLY", (masks["hair"], "Fac"), g.math("MULTIPLY", (fine_strands, "Fac"), 0.25))
    rough = g.math("ADD", (rough, 0), (strand_gloss, 0), clamp=True)
    covered = g.math("ADD", (masks["hair"], "Fac"), (stroke_fac, 0), clamp=True)
    bare = g.math("SUBTRACT", 1.0, (covered, 0), clamp=True)
    skin_only = g.math("MULTIPLY", (bare, 0), g.math("SUBTRACT", 1.0, (masks["mouth"], "Fac"), clamp=True))

    # Pores and fine texture bump the surface: the highlights break up as on real skin.
    skin_height = g.math("ADD", (pore_fac, 0), g.math("MULTIPLY", (fine, "Fac"), 0.5))
    strand_height = g.math("ADD", (strands, "Fac"), (fine_strands, "Fac"))
    to_strands = g.math("SUBTRACT", (strand_height, 0), (skin_height, 0))
    height = g.math("ADD", (skin_height, 0), g.math("MULTIPLY", (masks["hair"], "Fac"), (to_strands, 0)))
    bump = g.node("ShaderNodeBump")
    g.link(height, 0, bump, "Height")
    g.value(bump, "Strength", 0.25)
    g.value(bump, "Distance", 0.0005)
    tangent = g.node("ShaderNodeTangent", direction_type="RADIAL", axis="X")  # hair combed back

    bsdf = g.node("ShaderNodeBsdfPrincipled")
    g.link(col, "Result", bsdf, "Base Color")
    g.link(rough, 0, bsdf, "Roughness")
    g.link(bump, "Normal", bsdf, "Normal")
    g.link(bump, "Normal", bsdf, "Coat Normal")
    g.link(g.math("ADD", 0.45, g.math("MULTIPLY", (bare, 0), 0.3)), 0, bsdf, "Specular IOR Level")
    g.link(g.math("MULTIPLY", (skin_only, 0), 0.25), 0, bsdf, "Coat Weight")
    g.value(bsdf, "Coat Roughness", 0.2)
    g.link(g.math("MULTIPLY", (skin_only, 0), 0.2), 0, bsdf, "Subsurface Weight")
    g.value(bsdf, "Subsurface Radius", (1.0, 0.4, 0.25))
    g.value(bsdf, "Subsurface Scale", 0.003)
    g.link(g.math("MULTIPLY", (masks["hair"], "Fac"), 0.8), 0, bsdf, "Anisotropic")
    g.link(tangent, "Tangent", bsdf, "Tangent")
    _finish(g, bsdf)
    return mat


def build_eye(name: str, look: Appearance) -> bpy.types.Material:
    """An eyeball: sclera reddening towards the back, a fibrous iris with a dark limbal ring, a
    black pupil, all under a clear glossy cornea coat."""
    mat, g = _new(name)
    local = g.attribute(LOCAL)
    xyz = g.node("ShaderNodeSeparateXYZ")
    g.link(local, "Vector", xyz, 0)
    # Radial fibres: noise over the angle around the gaze axis, stretched along the radius.
    angle = g.node("ShaderNodeTexGradient", gradient_type="RADIAL")
    g.link(local, "Vector", angle, "Vector")
    fibre_uv = g.node("ShaderNodeCombineXYZ")
    g.link(g.math("MULTIPLY", (angle, "Fac"), 60.0), 0, fibre_uv, "X")
    g.link(g.math("MULTIPLY", (xyz, "Z"), 25.0), 0, fibre_uv, "Y")
    fibres = g.node("ShaderNodeTexNoise")
    g.link(fibre_uv, "Vector", fibres, "Vector")
    g.value(fibres, "Scale", 1.0)
    g.value(fibres, "Detail", 3.0)
    iris = g.mix((fibres, "Fac"), _scaled(look.iris, 0.5), _scaled(look.iris, 1.35))
    veins = texture(g, local, "ShaderNodeTexNoise", 9.0, Detail=4.0)
    off_centre = g.math("SUBTRACT", (veins, "Fac"), 0.5)
    vein_line = g.math("LESS_THAN", g.math("MULTIPLY", (off_centre, 0), (off_centre, 0)), 0.02**2)
    vein_fac = g.math("MULTIPLY", (vein_line, 0), g.math("SUBTRACT", 0.8, (xyz, "Z"), clamp=True))
    sclera = g.mix(g.math("SUBTRACT", 0.5, (xyz, "Z"), clamp=True), srgb_to_linear((0.92, 0.89, 0.86)),
                   srgb_to_linear((0.85, 0.66, 0.62)))  # fmt: skip
    sclera = g.mix((vein_fac, 0), (sclera, "Result"), srgb_to_linear((0.7, 0.2, 0.2)))
    on_iris = g.math("GREATER_THAN", (xyz, "Z"), IRIS_COS)
    col = g.mix((on_iris, 0), (sclera, "Result"), (iris, "Result"))
    limbus = g.math("LESS_THAN", (xyz, "Z"), IRIS_COS + 0.012)
    col = g.mix(g.math("MULTIPLY", (on_iris, 0), (limbus, 0)), (col, "Result"), _scaled(look.iris, 0.25))
    col = g.mix(
        g.math("GREATER_THAN", (xyz, "Z"), 0.985), (col, "Result"), srgb_to_linear((0.01, 0.01, 0.01))
    )
    bsdf = g.node("ShaderNodeBsdfPrincipled")
    g.link(col, "Result", bsdf, "Base Color")
    g.value(bsdf, "Roughness", 0.35)
    g.value(bsdf, "Coat Weight", 1.0)
    g.value(bsdf, "Coat Roughness", 0.03)
    g.value(bsdf, "Coat IOR", 1.376)  # the cornea's
    _finish(g, bsdf)
    return mat


def build_teeth(name: str) -> bpy.types.Material:
    """Off-white teeth with dark gaps between them, greyer at the biting edge, pink gums at the
    root; enamel is glossy."""
    mat, g = _new(name)
    local = g.attribute(LOCAL)
    xyz = g.node("ShaderNodeSeparateXYZ")
    g.link(local, "Vector", xyz, 0)
    along = g.math("FLOORED_MODULO", g.math("MULTIPLY", (xyz, "X"), TEETH / 2.0), 1.0)
    off_centre = g.math("SUBTRACT", (along, 0), 0.5)
    gap = g.math("LESS_THAN", g.math("MULTIPLY", (off_centre, 0), (off_centre, 0)), 0.06**2)
    col = g.mix(g.math("SUBTRACT", 0.25, (xyz, "Y"), clamp=True), srgb_to_linear((0.8, 0.76, 0.66)),
                srgb_to_linear((0.7, 0.7, 0.72)))  # fmt: skip
    col = g.mix(g.math("MULTIPLY", (gap, 0), 0.7), (col, "Result"), srgb_to_linear((0.25, 0.12, 0.1)))
    col = g.mix(g.math("GREATER_THAN", (xyz, "Y"), 0.82), (col, "Result"), srgb_to_linear((0.72, 0.38, 0.38)))
    bsdf = g.node("ShaderNodeBsdfPrincipled")
    g.link(col, "Result", bsdf, "Base Color")
    g.value(bsdf, "Roughness", 0.25)
    g.value(bsdf, "Specular IOR Level", 0.6)
    _finish(g, bsdf)
    return mat
