"""How much the skin is squeezed or stretched at each vertex of a posed mesh (numpy, no bpy).

Real faces change colour with the expression, not only shape: skin pushed together folds into
creases (frown lines, crow's feet, nasolabial folds) and reddens, stretched skin pales. A Gaussian
avatar bound to the mesh follows the shape by itself; only its expression-dependent appearance
(the blendshapes) can follow these. The synthetic head shades them from the two per-vertex values
computed here, so the built-in dataset exercises that part of the model as captured faces do.

The measure is the log ratio of each edge's posed length to its rest length: rigid motion (the
head turning, the eyes rolling) leaves it at zero, so only the skin's own deformation shades.
"""

from __future__ import annotations

import numpy as np

from .regions import _smoothstep

# log length ratio where shading starts and where it saturates
COMPRESS_RANGE = (0.05, 0.35)
STRETCH_RANGE = (0.05, 0.40)


def mesh_edges(faces: np.ndarray) -> np.ndarray:
    """Unique undirected edges (E, 2) of a triangle mesh."""
    f = np.asarray(faces)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    return np.unique(np.sort(e, axis=1), axis=0)


def _neighbour_mean(values: np.ndarray, edges: np.ndarray, rounds: int) -> np.ndarray:
    """Average each vertex with its edge neighbours, ``rounds`` times (each neighbour counted once,
    unlike regions' face-based smoothing, which counts shared edges twice)."""
    v = values.astype(np.float64)
    for _ in range(rounds):
        acc = v.copy()
        cnt = np.ones(len(v))
        for a, b in ((0, 1), (1, 0)):
            np.add.at(acc, edges[:, a], v[edges[:, b]])
            np.add.at(cnt, edges[:, a], 1.0)
        v = acc / cnt
    return v


def skin_strain(
    rest: np.ndarray,
    posed: np.ndarray,
    edges: np.ndarray,
    skin: np.ndarray,
    smooth_rounds: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex (compression, stretch) in [0, 1], scaled by ``skin`` (a [0, 1] weight that keeps
    creases off hair, eyes and lips). A vertex's compression comes from its most shortened edge,
    its stretch from its most lengthened one (wrinkles form across the squeezing direction, so the
    extreme edge, not the area, decides); both are softened over the neighbours."""
    rest = np.asarray(rest, dtype=np.float64)
    posed = np.asarray(posed, dtype=np.float64)
    if rest.shape != posed.shape:
        raise ValueError(f"rest {rest.shape} and posed {posed.shape} vertices differ")
    a, b = edges[:, 0], edges[:, 1]
    rest_len = np.linalg.norm(rest[a] - rest[b], axis=1)
    posed_len = np.linalg.norm(posed[a] - posed[b], axis=1)
    log_ratio = np.log(np.maximum(posed_len, 1e-12) / np.maximum(rest_len, 1e-12))
    shortest = np.zeros(len(rest))
    longest = np.zeros(len(rest))
    for end in (a, b):
        np.minimum.at(shortest, end, log_ratio)
        np.maximum.at(longest, end, log_ratio)
    shortest = _neighbour_mean(shortest, edges, smooth_rounds)
    longest = _neighbour_mean(longest, edges, smooth_rounds)
    weight = np.clip(np.asarray(skin, dtype=np.float64), 0.0, 1.0)
    compress = _smoothstep(*COMPRESS_RANGE, -shortest) * weight
    stretch = _smoothstep(*STRETCH_RANGE, longest) * weight
    return compress, stretch


def skin_weight(masks: dict[str, np.ndarray]) -> np.ndarray:
    """Where creases may show: skin, not hair, eyes or lips (lids and brows crease too)."""
    covered = masks["hair"] + masks["eyes"] + masks["lips"]
    return np.clip(1.0 - covered, 0.0, 1.0)
