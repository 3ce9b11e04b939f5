"""Where the skin, lips, brows, eyes, hair and clothes are on a rig's mesh (numpy, no bpy).

Masks are per-vertex weights in [0,1], computed once on the rest mesh and stored as mesh
attributes; the procedural materials blend their textures with them. They come from what every
FLAME/SMPL-X-layout model has (skinning weights, rest joints) and, where the model names its
expressions (the stand-ins carry ARKit names), from how strongly each expression moves a vertex;
models without names get geometric fallbacks.
"""

from __future__ import annotations

import numpy as np

from ..rig.model import RigModel


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _dominant(model: RigModel) -> np.ndarray:
    return np.asarray(model.weights).argmax(axis=1)


def _motion(model: RigModel, names: tuple[str, ...]) -> np.ndarray | None:
    """Normalised displacement magnitude of the named expressions (None if none are present)."""
    idx = [model.expression_names.index(n) for n in names if n in model.expression_names]
    if not idx:
        return None
    disp = np.linalg.norm(model.expr_dirs[:, :, idx], axis=1).max(axis=1)
    top = np.percentile(disp[disp > 0], 99) if np.any(disp > 0) else 1.0
    return np.clip(disp / max(top, 1e-12), 0.0, 1.0)


def _vertex_smooth(values: np.ndarray, faces: np.ndarray, rounds: int = 2) -> np.ndarray:
    """Average over mesh neighbours, to soften region borders."""
    v = values.astype(np.float64)
    n = len(v)
    for _ in range(rounds):
        acc = v.copy()
        cnt = np.ones(n)
        for a, b in ((0, 1), (1, 2), (2, 0)):
            np.add.at(acc, faces[:, a], v[faces[:, b]])
            np.add.at(cnt, faces[:, a], 1.0)
        v = acc / cnt
    return v


def head_regions(model: RigModel) -> dict[str, np.ndarray]:
    """FLAME-layout model: masks 'eyes', 'lips', 'brows', 'hair', 'lids' and eye centres."""
    rest = model.v_template
    joints = model.joint_regressor @ rest
    dom = _dominant(model)
    eyes = np.isin(dom, [3, 4]).astype(np.float64)
    eye_centre = 0.5 * (joints[3] + joints[4])
    rel = rest - eye_centre
    head_size = float(np.ptp(rest[:, 1])) or 0.25
    front = rel[:, 2]

    lips = _motion(model, ("mouthPucker", "mouthFunnel", "mouthRollLower", "mouthRollUpper"))
    if lips is None:  # below the eyes by about a nose, in front, near the middle
        mouth_y = -0.26 * head_size  # about 6.5 cm below the eyes on a 25 cm head
        lips = (
            _smoothstep(0.02, 0.0, np.abs(rel[:, 1] - mouth_y))
            * _smoothstep(0.03, 0.0, np.abs(rel[:, 0]) - 0.02)
            * (front > -0.01)
        )
    else:
        lips = (
            _smoothstep(0.55, 0.85, lips) * (rel[:, 1] < -0.03) * _smoothstep(0.032, 0.024, np.abs(rel[:, 0]))
        )
    brows = _motion(model, ("browInnerUp", "browOuterUpLeft", "browOuterUpRight"))
    if brows is None:
        brows = (
            _smoothstep(0.012, 0.0, np.abs(rel[:, 1] - 0.025)) * (front > -0.015) * (np.abs(rel[:, 0]) < 0.06)
        )
    else:
        brows = _smoothstep(0.45, 0.8, brows) * _smoothstep(0.01, 0.016, rel[:, 1])
        brows *= _smoothstep(0.042, 0.034, rel[:, 1]) * _smoothstep(0.008, 0.016, np.abs(rel[:, 0]))
    lids = _motion(model, ("eyeBlinkLeft", "eyeBlinkRight"))
    lids = np.zeros(len(rest)) if lids is None else _smoothstep(0.5, 0.9, lids) * (1.0 - eyes)

    # Hair: the scalp above the forehead and the back of the head down to the ears.
    forehead = rel[:, 1] - (0.045 + 0.3 * np.clip(front - 0.02, 0.0, None))
    back = _smoothstep(0.0, -0.03, front) * _smoothstep(-0.075, -0.035, rel[:, 1])
    sides = _smoothstep(0.015, 0.035, rel[:, 1]) * _smoothstep(0.04, 0.0, front)
    hair = np.clip(np.maximum.reduce([_smoothstep(0.0, 0.015, forehead), back, sides]), 0.0, 1.0)
    hair *= 1.0 - eyes
    ears = _smoothstep(0.065, 0.08, np.abs(rel[:, 0])) * _smoothstep(0.0, -0.03, rel[:, 1] - 0.01)
    hair *= 1.0 - 0.8 * ears
    faces = np.asarray(model.faces)
    out = {
        "eyes": eyes,
        "lips": _vertex_smooth(lips, faces, 1),
        "brows": _vertex_smooth(brows, faces, 1),
        "lids": _vertex_smooth(lids, faces, 1),
        "hair": _vertex_smooth(hair, faces, 3),
        "shirt": np.zeros(len(rest)),
        "pants": np.zeros(len(rest)),
        "shoes": np.zeros(len(rest)),
    }
    out["eye_left"] = joints[3]
    out["eye_right"] = joints[4]
    return out


_SKIN = (12, 15, 18, 19, 20, 21, 22, 23, 24, *range(25, 55))  # neck, head, forearms, hands
_SHOES = (7, 8, 10, 11)  # ankles, feet


def body_regions(model: RigModel) -> dict[str, np.ndarray]:
    """SMPL-X-layout model: clothing masks from skinning weights (a short-sleeved shirt above the
    waistline, trousers below it, shoes), plus hair and eyes on the head."""
    w = np.asarray(model.weights)
    faces = np.asarray(model.faces)
    rest = model.v_template
    joints = model.joint_regressor @ rest
    skin = w[:, [j for j in _SKIN if j < model.num_joints]].sum(1)
    # Short sleeves: the upper arm is bare from a third of the way down to the elbow.
    for s, e in ((16, 18), (17, 19)):
        axis = joints[e] - joints[s]
        t = (rest - joints[s]) @ axis / max(float(axis @ axis), 1e-12)
        skin = skin + w[:, s] * _smoothstep(0.3, 0.45, t)
    skin = np.clip(skin, 0.0, 1.0)
    shoes = _smoothstep(0.3, 0.6, w[:, list(_SHOES)].sum(1))
    clothed = (1.0 - skin) * (1.0 - shoes)
    above = _smoothstep(-0.01, 0.01, rest[:, 1] - (joints[0, 1] + 0.08))  # the waistline
    shirt = clothed * above
    pants = clothed * (1.0 - above)
    head = w[:, [15, 22]].sum(1)
    eyes = w[:, [23, 24]].sum(1) if model.num_joints > 24 else np.zeros(len(rest))
    rel = rest - joints[15]
    hair = head * _smoothstep(0.04, 0.07, rel[:, 1] + 0.1 * np.clip(-rel[:, 2], 0.0, None) * 4.0)
    hair = np.maximum(hair, head * _smoothstep(-0.02, -0.06, rel[:, 2]) * _smoothstep(-0.06, 0.0, rel[:, 1]))
    out = {
        "shirt": _vertex_smooth(np.clip(shirt, 0, 1), faces, 1),
        "pants": _vertex_smooth(np.clip(pants, 0, 1), faces, 1),
        "shoes": _vertex_smooth(np.clip(shoes, 0, 1), faces, 1),
        "hair": _vertex_smooth(np.clip(hair, 0, 1), faces, 2),
        "eyes": np.clip(eyes, 0, 1),
        "lips": np.zeros(len(rest)),
        "brows": np.zeros(len(rest)),
        "lids": np.zeros(len(rest)),
    }
    out["eye_left"] = joints[23] if model.num_joints > 24 else joints[15]
    out["eye_right"] = joints[24] if model.num_joints > 24 else joints[15]
    return out


MASK_NAMES = ("eyes", "lips", "brows", "lids", "hair", "shirt", "pants", "shoes")


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    out = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(out, faces[:, k], n)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norm < 1e-12, 1.0, norm)
