"""Skin-like shading of a FLAME-format head for the CPU rasterizer: Lambert under a headlight with
darker lips, brows, hair and eyes with irises, so that a face landmark model trained on photographs
finds the face on a render of an untextured rig. The regions come from
core/synthetic/regions.py (bpy-free), which works for any FLAME-layout model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.rig.model import RigModel
from core.synthetic.regions import head_regions, vertex_normals

from .raster import Fragments, interpolate, rasterize

SKIN = np.array([0.86, 0.66, 0.55])
LIPS = np.array([0.62, 0.30, 0.30])
BROWS = np.array([0.22, 0.16, 0.12])
HAIR = np.array([0.30, 0.22, 0.16])
SCLERA = np.array([0.92, 0.90, 0.88])
IRIS = np.array([0.25, 0.17, 0.10])
PUPIL = np.array([0.03, 0.03, 0.03])
IRIS_ANGLE = np.radians(32.0)  # a human iris spans about 12 mm on a 24 mm eyeball
PUPIL_ANGLE = np.radians(12.0)
AMBIENT = 0.25


@dataclass
class HeadLook:
    """Per-vertex colour and the eye attributes of one model (computed once)."""

    colour: np.ndarray  # (V,3)
    eye_weight: np.ndarray  # (V,) 1 on the eyeballs
    eye_direction: np.ndarray  # (V,3) unit rest direction from the eyeball's centre (zeros elsewhere)


def head_look(model: RigModel) -> HeadLook:
    regions = head_regions(model)
    colour = np.tile(SKIN, (model.num_vertices, 1))
    for name, tint, strength in (("hair", HAIR, 0.9), ("brows", BROWS, 0.9), ("lips", LIPS, 0.85)):
        w = np.clip(np.asarray(regions[name]), 0.0, 1.0)[:, None] * strength
        colour = colour * (1.0 - w) + tint * w
    eyes = np.clip(np.asarray(regions["eyes"]), 0.0, 1.0)
    rest = np.asarray(model.v_template, np.float64)
    centre = np.where((rest[:, 0] > 0)[:, None], regions["eye_left"], regions["eye_right"])
    direction = rest - centre
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-12)
    direction *= (eyes > 0.5)[:, None]
    return HeadLook(colour=colour, eye_weight=eyes, eye_direction=direction)


def shade(
    look: HeadLook,
    vertices: np.ndarray,
    faces: np.ndarray,
    K: np.ndarray,  # noqa: N803
    world_to_camera: np.ndarray,
    width: int,
    height: int,
    background: tuple[float, float, float] = (0.55, 0.6, 0.65),
) -> tuple[np.ndarray, Fragments]:
    """(H,W,3) uint8 image and the fragments of the posed ``vertices``."""
    frags = rasterize(vertices, faces, K, world_to_camera, width, height)
    normals = vertex_normals(vertices, faces)
    attrs = np.concatenate([look.colour, normals, look.eye_weight[:, None], look.eye_direction], axis=1)
    pix = interpolate(frags, faces, attrs)
    colour, normal, eye_w, eye_dir = pix[..., :3], pix[..., 3:6], pix[..., 6:7], pix[..., 7:10]
    # Iris and pupil from the angle to the eyeball's rest forward axis (+z), so they move with the eye.
    cos_angle = eye_dir[..., 2] / np.maximum(np.linalg.norm(eye_dir, axis=-1), 1e-12)
    angle = np.arccos(np.clip(cos_angle, -1.0, 1.0))[..., None]
    eye_colour = np.where(angle < PUPIL_ANGLE, PUPIL, np.where(angle < IRIS_ANGLE, IRIS, SCLERA))
    eye_on = eye_w > 0.5
    colour = np.where(eye_on, eye_colour, colour)
    # Headlight: light comes from the camera, so the Lambert term is the normal against the view ray.
    cam_normal = normal @ np.asarray(world_to_camera)[:3, :3].T
    cam_normal /= np.maximum(np.linalg.norm(cam_normal, axis=-1, keepdims=True), 1e-12)
    h, w = frags.face.shape
    ys, xs = np.mgrid[0:h, 0:w]
    rays = np.stack([(xs - K[0, 2]) / K[0, 0], (ys - K[1, 2]) / K[1, 1], np.ones_like(xs, float)], axis=-1)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    lambert = np.clip(-(cam_normal * rays).sum(-1, keepdims=True), 0.0, 1.0)
    lit = colour * (AMBIENT + (1.0 - AMBIENT) * lambert)
    image = np.where(frags.mask[..., None], lit, np.asarray(background))
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), frags
