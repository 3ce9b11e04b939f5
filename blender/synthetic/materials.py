"""Procedural materials for the synthetic subjects (Cycles shader nodes).

Textures are driven by the ``rest`` attribute (each vertex's rest-pose position, metres), so the
detail sticks to the skin while the mesh moves; the region masks of regions.py (mesh attributes)
blend skin, lips, brows, eyelids, hair, eyes and clothes. The ``Appearance`` picks tones from the
seed so that different seeds give different people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import bpy
import numpy as np

Colour = tuple[float, float, float]
# Per-vertex skin compression and stretch (strain.py), set each timestep: creases and pallor that
# follow the expression.
STRAIN_NAMES = ("compress", "stretch")

SKIN_TONES: tuple[Colour, ...] = (
    (0.78, 0.57, 0.46), (0.64, 0.44, 0.33), (0.86, 0.66, 0.55), (0.45, 0.30, 0.21), (0.70, 0.50, 0.36),
)  # fmt: skip
HAIR_TONES: tuple[Colour, ...] = (
    (0.10, 0.06, 0.04), (0.28, 0.16, 0.08), (0.45, 0.30, 0.14), (0.05, 0.04, 0.04), (0.55, 0.22, 0.10),
)  # fmt: skip
IRIS_TONES: tuple[Colour, ...] = (
    (0.20, 0.35, 0.55),
    (0.30, 0.18, 0.08),
    (0.25, 0.40, 0.22),
    (0.35, 0.30, 0.22),
)
SHIRT_TONES: tuple[Colour, ...] = (
    (0.60, 0.10, 0.10),
    (0.10, 0.35, 0.55),
    (0.85, 0.75, 0.20),
    (0.15, 0.50, 0.30),
)
PANTS_TONES: tuple[Colour, ...] = ((0.08, 0.12, 0.30), (0.20, 0.20, 0.22), (0.35, 0.27, 0.15))


def srgb_to_linear(c: Sequence[float]) -> tuple[float, float, float, float]:
    lin = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
    return (lin[0], lin[1], lin[2], 1.0)


@dataclass(frozen=True)
class Appearance:
    skin: Colour
    hair: Colour
    iris: Colour
    shirt: Colour
    pants: Colour
    lips: Colour
    seed: int

    @staticmethod
    def from_seed(seed: int) -> Appearance:
        rng = np.random.default_rng(seed)

        def pick(options: tuple[Colour, ...]) -> Colour:
            return options[int(rng.integers(len(options)))]

        skin = pick(SKIN_TONES)
        lips = (min(skin[0] * 0.92 + 0.04, 1.0), skin[1] * 0.62, skin[2] * 0.66)
        return Appearance(
            skin, pick(HAIR_TONES), pick(IRIS_TONES), pick(SHIRT_TONES), pick(PANTS_TONES), lips, seed
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("skin", "hair", "iris", "shirt", "pants", "lips", "seed")}


class Graph:
    """Small helper over a node tree: create nodes, link sockets by name (enabled ones only)."""

    def __init__(self, tree: bpy.types.NodeTree) -> None:
        self.tree = tree
        self.x = 0

    def node(self, kind: str, **props: Any) -> Any:
        n = self.tree.nodes.new(kind)
        for key, value in props.items():
            setattr(n, key, value)
        n.location = (self.x, 0)
        self.x += 180
        return n

    @staticmethod
    def socket(sockets: Any, name: str | int) -> Any:
        if isinstance(name, int):
            return [s for s in sockets if s.enabled][name]
        for s in sockets:
            if s.enabled and (s.name == name or s.identifier == name):
                return s
        raise KeyError(name)

    def link(self, src: Any, out: str | int, dst: Any, inp: str | int) -> None:
        self.tree.links.new(self.socket(src.outputs, out), self.socket(dst.inputs, inp))

    def value(self, node: Any, inp: str | int, value: Any) -> None:
        self.socket(node.inputs, inp).default_value = value

    def attribute(self, name: str) -> Any:
        return self.node("ShaderNodeAttribute", attribute_name=name, attribute_type="GEOMETRY")

    def connect(self, dst: Any, slot: str | int, arg: Any) -> None:
        """Feed an input from a node (first output), a (node, output) pair, or a constant."""
        if isinstance(arg, bpy.types.Node):
            self.link(arg, 0, dst, slot)
        elif isinstance(arg, tuple) and len(arg) == 2 and isinstance(arg[0], bpy.types.Node):
            self.link(arg[0], arg[1], dst, slot)
        else:
            self.value(dst, slot, arg)

    def mix(self, fac: Any, a: Any, b: Any, blend: str = "MIX") -> Any:
        m = self.node("ShaderNodeMix", data_type="RGBA", blend_type=blend)
        for slot, arg in ((0, fac), (1, a), (2, b)):
            self.connect(m, slot, arg)
        return m

    def math(self, op: str, a: Any, b: Any = 0.0, clamp: bool = False) -> Any:
        m = self.node("ShaderNodeMath", operation=op, use_clamp=clamp)
        for slot, arg in ((0, a), (1, b)):
            self.connect(m, slot, arg)
        return m


def texture(g: Graph, rest: Any, kind: str, scale: float, **props: Any) -> Any:
    node = g.node(kind)
    g.link(rest, "Vector", node, "Vector")
    g.value(node, "Scale", scale)
    for key, value in props.items():
        if hasattr(node, key):
            setattr(node, key, value)
        else:
            g.value(node, key, value)
    return node


def expression_skin(g: Graph, coords: Any, skin: Any, look: Appearance) -> Any:
    """Expression-dependent skin over the colour node ``skin`` (a mix node): squeezed skin folds
    into darker, redder crease lines over a light flush; stretched skin pales. Creases run across
    the face (bands along the model's Y), their spacing broken up by distortion so they read as
    folds, not stripes. Returns the last mix node."""
    compress, stretch = g.attribute(STRAIN_NAMES[0]), g.attribute(STRAIN_NAMES[1])
    folds = texture(
        g, coords, "ShaderNodeTexWave", 50.0, wave_type="BANDS", bands_direction="Y", Distortion=6.0
    )
    crease_line = g.math("POWER", (folds, "Fac"), 2.5)
    crease_fac = g.math(
        "MULTIPLY", (compress, "Fac"), g.math("ADD", 0.4, g.math("MULTIPLY", (crease_line, 0), 0.6))
    )
    crease = srgb_to_linear((look.skin[0] * 0.62, look.skin[1] * 0.42, look.skin[2] * 0.42))
    skin = g.mix((crease_fac, 0), (skin, "Result"), crease)
    pale = srgb_to_linear(
        tuple(min(c * 1.12 + 0.04, 1.0) for c in (look.skin[0] * 0.95, look.skin[1], look.skin[2]))
    )
    return g.mix(g.math("MULTIPLY", (stretch, "Fac"), 0.7), (skin, "Result"), pale)


def build_material(
    name: str, look: Appearance, eye_left: np.ndarray, eye_right: np.ndarray
) -> bpy.types.Material:
    """One material for the whole subject; regions come from mesh attributes. Eye centres are in
    rest (model) coordinates: the iris looks down the model's +z."""
    mat = bpy.data.materials.new(name)
    tree = mat.node_tree
    assert tree is not None
    tree.nodes.clear()
    g = Graph(tree)
    rest = g.attribute("rest")
    masks = {n: g.attribute(n) for n in ("eyes", "lips", "brows", "lids", "hair", "shirt", "pants", "shoes")}
    # Offset the texture space per seed so two people do not share blotches.
    shift = g.node("ShaderNodeVectorMath", operation="ADD")
    g.link(rest, "Vector", shift, 0)
    g.value(shift, 1, tuple(float(v) for v in np.random.default_rng(look.seed).uniform(-50, 50, 3)))
    rest_v = shift

    # Two noise fields (their colour outputs give three channels each) and one Voronoi serve every
    # region: texture evaluation dominates Cycles' cost on the CPU, so it is shared.
    low = texture(g, rest_v, "ShaderNodeTexNoise", 7.0, Detail=2.0)
    mid = texture(g, rest_v, "ShaderNodeTexNoise", 45.0, Detail=3.0, Roughness=0.55)
    low_c = g.node("ShaderNodeSeparateColor")
    g.link(low, "Color", low_c, 0)
    mid_c = g.node("ShaderNodeSeparateColor")
    g.link(mid, "Color", mid_c, 0)
    pores = texture(g, rest_v, "ShaderNodeTexVoronoi", 600.0)

    # Skin: base tone, blotches, redness, pores, freckles.
    base = srgb_to_linear(look.skin)
    darker = srgb_to_linear(tuple(c * 0.82 for c in look.skin))
    reddish = srgb_to_linear((min(look.skin[0] * 1.08, 1.0), look.skin[1] * 0.78, look.skin[2] * 0.78))
    skin = g.mix((mid, "Fac"), darker, base)
    red_fac = g.math("MULTIPLY", (g.math("SUBTRACT", (low_c, "Red"), 0.45, clamp=True), 0), 1.6, clamp=True)
    skin = g.mix((red_fac, 0), (skin, "Result"), reddish)
    pore_fac = g.math("LESS_THAN", (pores, "Distance"), 0.15)
    skin = g.mix((g.math("MULTIPLY", (pore_fac, 0), 0.2), 0), (skin, "Result"), darker)
    freckle_fac = g.math("MULTIPLY", (g.math("GREATER_THAN", (mid_c, "Blue"), 0.68), 0), 0.3)
    skin = g.mix((freckle_fac, 0), (skin, "Result"), srgb_to_linear((0.45, 0.27, 0.17)))

    skin = expression_skin(g, rest_v, skin, look)

    # Lips, eyelid shadow, brows (strokes over skin).
    lip_dark = srgb_to_linear(tuple(c * 0.85 for c in look.lips))
    lips = g.mix((mid_c, "Green"), lip_dark, srgb_to_linear(look.lips))
    col = g.mix((masks["lips"], "Fac"), (skin, "Result"), (lips, "Result"))
    col = g.mix((g.math("MULTIPLY", (masks["lids"], "Fac"), 0.35), 0), (col, "Result"), darker)
    strokes = texture(
        g, rest_v, "ShaderNodeTexWave", 140.0, wave_type="BANDS", bands_direction="X", Distortion=12.0
    )
    stroke_on = g.math("GREATER_THAN", (strokes, "Fac"), 0.25)
    stroke_fac = g.math("MULTIPLY", (masks["brows"], "Fac"), (stroke_on, 0))
    brow_col = srgb_to_linear(tuple(c * 0.8 for c in look.hair))
    col = g.mix((stroke_fac, 0), (col, "Result"), brow_col)

    # Hair: strand-like bands along the head, two tones, broken up by the noise.
    hair_wave = texture(
        g, rest_v, "ShaderNodeTexWave", 90.0, wave_type="BANDS", bands_direction="Y", Distortion=18.0
    )
    hair_dark = srgb_to_linear(tuple(c * 0.55 for c in look.hair))
    hair_light = srgb_to_linear(tuple(min(c * 1.35 + 0.02, 1.0) for c in look.hair))
    hair = g.mix((hair_wave, "Fac"), hair_dark, hair_light)
    hair = g.mix((g.math("MULTIPLY", (mid_c, "Red"), 0.5), 0), (hair, "Result"), hair_dark)
    col = g.mix((masks["hair"], "Fac"), (col, "Result"), (hair, "Result"))

    # Clothes: shirt weave, denim, shoes.
    weave = texture(g, rest_v, "ShaderNodeTexChecker", 700.0)
    shirt = g.mix((g.math("MULTIPLY", (weave, "Fac"), 0.25), 0), srgb_to_linear(look.shirt),
                  srgb_to_linear(tuple(c * 0.7 for c in look.shirt)))  # type: ignore[arg-type]  # fmt: skip
    denim_tex = texture(g, rest_v, "ShaderNodeTexNoise", 400.0, Detail=1.0)
    pants = g.mix((denim_tex, "Fac"), srgb_to_linear(tuple(c * 0.75 for c in look.pants)),
                  srgb_to_linear(look.pants))  # fmt: skip
    col = g.mix((masks["shirt"], "Fac"), (col, "Result"), (shirt, "Result"))
    # Layered mixes: where shirt and trousers meet (each 0.5) the trousers take all that is left,
    # or a band of skin would show through at the waistline.
    rest_after_shirt = g.math("SUBTRACT", 1.0001, (masks["shirt"], "Fac"))
    pants_fac = g.math("DIVIDE", (masks["pants"], "Fac"), (rest_after_shirt, 0), clamp=True)
    col = g.mix((pants_fac, 0), (col, "Result"), (pants, "Result"))
    col = g.mix((masks["shoes"], "Fac"), (col, "Result"), srgb_to_linear((0.12, 0.10, 0.09)))

    # Eyes: sclera, iris ring, pupil, from the direction to the nearest eye centre.
    side = g.node("ShaderNodeSeparateXYZ")
    g.link(rest, "Vector", side, 0)
    is_left = g.math("GREATER_THAN", (side, "X"), float((eye_left[0] + eye_right[0]) / 2))
    # A vector mix: colour sockets would clamp the negative coordinates of the right eye.
    centre = g.node("ShaderNodeMix", data_type="VECTOR")
    g.connect(centre, 0, (is_left, 0))
    g.value(centre, 1, tuple(float(v) for v in eye_right))
    g.value(centre, 2, tuple(float(v) for v in eye_left))
    rel = g.node("ShaderNodeVectorMath", operation="SUBTRACT")
    g.link(rest, "Vector", rel, 0)
    g.link(centre, "Result", rel, 1)
    unit = g.node("ShaderNodeVectorMath", operation="NORMALIZE")
    g.link(rel, "Vector", unit, 0)
    facing = g.node("ShaderNodeSeparateXYZ")
    g.link(unit, "Vector", facing, 0)
    iris_fac = g.math("GREATER_THAN", (facing, "Z"), 0.93)
    pupil_fac = g.math("GREATER_THAN", (facing, "Z"), 0.985)
    iris_tex = texture(g, rest_v, "ShaderNodeTexNoise", 2000.0, Detail=2.0)
    iris = g.mix(
        (iris_tex, "Fac"), srgb_to_linear(tuple(c * 0.6 for c in look.iris)), srgb_to_linear(look.iris)
    )
    eye = g.mix((iris_fac, 0), srgb_to_linear((0.88, 0.85, 0.82)), (iris, "Result"))
    eye = g.mix((pupil_fac, 0), (eye, "Result"), srgb_to_linear((0.02, 0.02, 0.02)))
    col = g.mix((masks["eyes"], "Fac"), (col, "Result"), (eye, "Result"))

    # Roughness per region: skin satin, lips and eyes glossy, hair and cloth matte.
    rough = g.math("ADD", 0.55, g.math("MULTIPLY", (masks["hair"], "Fac"), 0.2))
    rough = g.math("SUBTRACT", (rough, 0), g.math("MULTIPLY", (masks["lips"], "Fac"), 0.15))
    rough = g.math("SUBTRACT", (rough, 0), g.math("MULTIPLY", (masks["eyes"], "Fac"), 0.4))
    cloth = g.math("ADD", (masks["shirt"], "Fac"), (masks["pants"], "Fac"))
    rough = g.math("ADD", (rough, 0), g.math("MULTIPLY", (cloth, 0), 0.35), clamp=True)

    bsdf = g.node("ShaderNodeBsdfPrincipled")
    g.link(col, "Result", bsdf, "Base Color")
    g.link(rough, 0, bsdf, "Roughness")
    # Hair and cloth scatter light rather than mirror it.
    matte = g.math("ADD", (g.math("ADD", (masks["hair"], "Fac"), (cloth, 0)), 0), (stroke_fac, 0), clamp=True)
    spec = g.math("SUBTRACT", 0.5, g.math("MULTIPLY", (matte, 0), 0.4))
    g.link(spec, 0, bsdf, "Specular IOR Level")
    out = g.node("ShaderNodeOutputMaterial")
    g.link(bsdf, "BSDF", out, "Surface")
    return mat
