"""The parts of a face that a capture sees and a skin mesh alone does not show well (numpy, no bpy):
smooth eyeballs with a cornea, upper and lower teeth, and where the mouth cavity and tongue are.

Each part is built once in the model's rest coordinates and rides rigidly on one joint of the rig
(eyes on the eye joints, so they follow the gaze; upper teeth on the head, lower teeth on the jaw),
posed each timestep with the joint transforms of the forward pass. The mouth cavity and tongue are
found on the model's own mesh (a closed mouth bag and a tongue, as the stand-in has) and shaded by
the capture material from per-vertex masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..rig.model import RigModel
from .regions import _smoothstep

HEAD, JAW, EYE_LEFT, EYE_RIGHT = 1, 2, 3, 4  # FLAME's joints: global, neck (head), jaw, eyes
IRIS_COS = 0.93  # cosine of the iris' angular radius on the eyeball (also the cornea's edge)
CORNEA_BULGE = 0.06  # how far the cornea rises over the eyeball, in eyeball radii
TEETH = 16  # per row


@dataclass(frozen=True)
class Part:
    """A rigid piece of geometry: rest vertices (model coordinates), triangles, the joint it rides
    on, and ``local``: per-vertex coordinates in the part's own frame for the material (an eye's
    unit direction, gaze along +z; a tooth row's (position along the arch in [-1, 1], height in
    [0, 1], 0))."""

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    joint: int
    local: np.ndarray


def components(faces: np.ndarray, count: int) -> np.ndarray:
    """Connected-component label of each of ``count`` vertices (union-find over the edges)."""
    parent = np.arange(count)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for a, b in np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]]):
        ra, rb = root(int(a)), root(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(i) for i in range(count)])


def eyeball_vertices(model: RigModel) -> np.ndarray:
    """Boolean (V,): the model's own eyeball vertices (skinned to an eye joint)."""
    dominant = np.asarray(model.weights).argmax(axis=1)
    return np.isin(dominant, [EYE_LEFT, EYE_RIGHT])


def faces_without_eyeballs(model: RigModel) -> np.ndarray:
    """The model's triangles less its eyeballs (the capture look puts smooth ones in their place)."""
    faces = np.asarray(model.faces)
    return faces[~eyeball_vertices(model)[faces].all(axis=1)]


def tongue(model: RigModel) -> np.ndarray:
    """(V,) 1 on the vertices of a separate piece of mesh that rides on the jaw (the stand-in's
    tongue), else 0."""
    faces = np.asarray(model.faces)
    labels = components(faces, model.num_vertices)
    sizes = np.bincount(labels, minlength=model.num_vertices)
    dominant = np.asarray(model.weights).argmax(axis=1)
    main = int(np.argmax(sizes))
    out = np.zeros(model.num_vertices)
    for label in np.unique(labels):
        part = labels == label
        if label != main and np.mean(dominant[part] == JAW) > 0.5:
            out[part] = 1.0
    return out


def _first_hit_ahead(origins: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """For each origin, whether a ray from it along +z (the face's forward) hits a triangle."""
    tri = vertices[faces]
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    d = np.array([0.0, 0.0, 1.0])
    h = np.cross(d, e2)
    det = np.einsum("fk,fk->f", e1, h)
    usable = np.abs(det) > 1e-14
    inv = np.where(usable, 1.0 / np.where(usable, det, 1.0), 0.0)
    out = np.zeros(len(origins), dtype=bool)
    for i, origin in enumerate(origins):
        # Möller-Trumbore against every triangle; the origin nudged forward off its own surface.
        s = origin + 1e-4 * d - tri[:, 0]
        u = inv * np.einsum("fk,fk->f", s, h)
        q = np.cross(s, e1)
        v = inv * q[:, 2]
        t = inv * np.einsum("fk,fk->f", e2, q)
        out[i] = bool(np.any(usable & (u >= 0) & (u <= 1) & (v >= 0) & (u + v <= 1) & (t > 1e-6)))
    return out


def mouth_inside(model: RigModel) -> np.ndarray:
    """(V,) 1 on the mouth bag: skin around and behind the lips that something hides from straight
    ahead (the inner lips, the cavity's walls), less the nostrils above the upper lip, and the
    tongue; 0 elsewhere. Rest pose, lips closed."""
    rest = np.asarray(model.v_template)
    joints = np.asarray(model.joint_regressor) @ rest
    rel = rest - 0.5 * (joints[EYE_LEFT] + joints[EYE_RIGHT])
    candidate = (
        (np.abs(rel[:, 0]) < 0.045)
        & (rel[:, 1] > -0.11)
        & (rel[:, 1] < -0.02)
        & ~eyeball_vertices(model)
        # Nostrils are hidden from the front too; they sit above the lips and far forward.
        & ~((rel[:, 1] > -0.045) & (rel[:, 2] > 0.021))
    )
    idx = np.flatnonzero(candidate)
    hidden = _first_hit_ahead(rest[idx], rest, np.asarray(model.faces))
    out = np.zeros(len(rest))
    out[idx[hidden]] = 1.0
    return np.maximum(out, tongue(model))


@dataclass(frozen=True)
class MouthFrame:
    """Where the teeth go, in model coordinates: the height of the line where the lips meet, the
    depth of the inner lips' front at the midline, and the mouth's half-width."""

    seam_y: float
    front_z: float
    half_width: float


def mouth_frame(model: RigModel, lips: np.ndarray, inside: np.ndarray) -> MouthFrame:
    """From the lips mask (regions.py) and the mouth bag: the seam is halfway between the lowest
    lip vertex on the head and the highest on the jaw (where the skinning switches); the inner
    lips are the front of the mouth bag near the midline."""
    rest = np.asarray(model.v_template)
    dominant = np.asarray(model.weights).argmax(axis=1)
    on_lips = lips > 0.5
    mid = np.abs(rest[:, 0]) < 0.01
    upper = rest[on_lips & (dominant == HEAD) & mid, 1]
    lower = rest[on_lips & (dominant == JAW) & mid, 1]
    if len(upper) == 0 or len(lower) == 0:
        raise ValueError("the lips mask has no vertices on both the head and the jaw")
    seam = 0.5 * (float(upper.min()) + float(lower.max()))
    near_seam = rest[mid & (inside > 0.5) & (np.abs(rest[:, 1] - seam) < 0.012), 2]
    if len(near_seam):  # the inner lips: the foremost centimetre of what hides behind them
        front = float(np.median(near_seam[near_seam > near_seam.max() - 0.01]))
    else:
        front = float(rest[on_lips, 2].max()) - 0.012
    width = float(np.abs(rest[on_lips, 0]).max())
    return MouthFrame(seam, front, width)


def eyeball(
    name: str, centre: np.ndarray, radius: float, joint: int, rings: int = 24, segments: int = 32
) -> Part:
    """A UV sphere around ``centre`` with its pole along +z (the rest gaze), the cornea raised over
    the iris so highlights bend there as on a real eye."""
    theta = np.linspace(0.0, np.pi, rings + 1)[1:-1]  # from the front pole back
    phi = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    dirs = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], axis=-1).reshape(-1, 3)
    dirs = np.concatenate([[[0.0, 0.0, 1.0]], dirs, [[0.0, 0.0, -1.0]]])
    bulge = 1.0 + CORNEA_BULGE * _smoothstep(IRIS_COS - 0.01, 1.0, dirs[:, 2]) ** 0.5
    verts = np.asarray(centre, dtype=np.float64) + radius * dirs * bulge[:, None]
    faces = []
    ring = lambda r, s: 1 + r * segments + s % segments  # noqa: E731 (index of ring r, segment s)
    last = len(dirs) - 1
    for s in range(segments):
        faces.append((0, ring(0, s), ring(0, s + 1)))
        for r in range(rings - 2):
            a, b, c, d = ring(r, s), ring(r + 1, s), ring(r + 1, s + 1), ring(r, s + 1)
            faces += [(a, b, c), (a, c, d)]
        faces.append((last, ring(rings - 2, s + 1), ring(rings - 2, s)))
    return Part(name, verts, np.asarray(faces, dtype=np.int64), joint, dirs)


def eyeballs(model: RigModel) -> list[Part]:
    """Smooth eyeballs where the model's own are (centred on the eye joints, the same radius)."""
    rest = np.asarray(model.v_template)
    joints = np.asarray(model.joint_regressor) @ rest
    dominant = np.asarray(model.weights).argmax(axis=1)
    out = []
    for name, joint in (("eye_left", EYE_LEFT), ("eye_right", EYE_RIGHT)):
        own = rest[dominant == joint]
        radius = float(np.median(np.linalg.norm(own - joints[joint], axis=1))) if len(own) else 0.012
        out.append(eyeball(name, joints[joint], radius, joint))
    return out


def tooth_row(name: str, frame: MouthFrame, upper: bool, joint: int, steps: int = 48) -> Part:
    """A row of teeth as one curved slab along the dental arch (a parabola from the front, behind
    the inner lips, back to the mouth's corners), 9 mm tall above / 8 mm below the lips' seam and
    5 mm thick; the material draws the gaps between teeth from ``local``."""
    s = np.linspace(-1.0, 1.0, steps)
    half = 0.9 * frame.half_width
    depth = 1.2 * half  # how far the arch curves back at its ends
    front = frame.front_z - 0.004  # just behind the inner lips
    x, z = s * half, front - depth * s**2
    # Unit normals of the arch in the x-z plane (pointing out of the mouth).
    tangent = np.stack([np.full_like(s, half), -2.0 * depth * s], axis=1)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    normal *= np.sign(normal[:, 1:2])
    thick, height = 0.005, (0.009 if upper else 0.008)
    near, far = (frame.seam_y + 0.0005, frame.seam_y + 0.0005 + height) if upper else (
        frame.seam_y - 0.0005, frame.seam_y - 0.0005 - height)  # fmt: skip
    # Four corners per cross-section: outer edge, outer root, inner root, inner edge.
    corners = []
    for i in range(steps):
        out_xz = np.array([x[i], z[i]])
        in_xz = out_xz - thick * normal[i]
        for (cx, cz), y, v in (
            (out_xz, near, 0.0),
            (out_xz, far, 1.0),
            (in_xz, far, 1.0),
            (in_xz, near, 0.0),
        ):
            corners.append(((cx, y, cz), (s[i], v, 0.0)))
    verts = np.array([c[0] for c in corners], dtype=np.float64)
    local = np.array([c[1] for c in corners], dtype=np.float64)
    faces = []
    for i in range(steps - 1):
        for k in range(4):
            a, b = 4 * i + k, 4 * i + (k + 1) % 4
            c, d = a + 4, b + 4
            faces += [(a, c, d), (a, d, b)]
    for end, flip in ((0, True), (4 * (steps - 1), False)):
        cap = [(end, end + 1, end + 2), (end, end + 2, end + 3)]
        faces += [(a, c, b) for a, b, c in cap] if flip else cap
    return Part(name, verts, np.asarray(faces, dtype=np.int64), joint, local)


def teeth(model: RigModel, lips: np.ndarray, inside: np.ndarray) -> list[Part]:
    frame = mouth_frame(model, lips, inside)
    return [tooth_row("teeth_upper", frame, True, HEAD), tooth_row("teeth_lower", frame, False, JAW)]


def pose_part(part: Part, rest_joints: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """The part's vertices carried rigidly by its joint: ``transforms`` (J,4,4) are the forward
    pass's joint transforms (rest joint -> posed), ``rest_joints`` the rest joint positions."""
    world = np.asarray(transforms)[part.joint]
    return (part.vertices - np.asarray(rest_joints)[part.joint]) @ world[:3, :3].T + world[:3, 3]
