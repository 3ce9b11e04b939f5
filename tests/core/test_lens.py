"""Thin-lens and shutter sampling (core/lens.py)."""

from __future__ import annotations

import numpy as np
import pytest

from core import lens
from core.cameras import ViewCamera


def camera() -> ViewCamera:
    return ViewCamera(np.eye(4), fx=100.0, fy=100.0, cx=50.0, cy=40.0, width=100, height=80)


def project(cam: ViewCamera, point: np.ndarray) -> np.ndarray:
    p = cam.world_to_camera[:3, :3] @ point + cam.world_to_camera[:3, 3]
    return np.array([cam.fx * p[0] / p[2] + cam.cx, cam.fy * p[1] / p[2] + cam.cy])


def test_aperture_points_cover_the_disc_evenly() -> None:
    points = lens.aperture_points(256, 0.02)
    radii = np.linalg.norm(points, axis=1)
    assert radii.max() <= 0.02
    assert np.mean(radii**2) == pytest.approx(0.02**2 / 2, rel=1e-9)
    assert np.abs(points.mean(0)).max() < 0.02 * 0.02  # centred


def test_blades_keep_points_inside_the_polygon() -> None:
    points = lens.aperture_points(200, 1.0, blades=6)
    angles = np.arctan2(points[:, 1], points[:, 0])
    edge = np.cos(np.pi / 6) / np.cos(np.mod(angles, np.pi / 3) - np.pi / 6)
    assert (np.linalg.norm(points, axis=1) <= edge + 1e-9).all()


def test_the_focus_plane_stays_and_other_depths_spread_by_the_circle_of_confusion() -> None:
    base, focus, radius = camera(), 2.0, 0.01
    offset = np.array([radius, 0.0])
    moved = lens.lens_camera(base, offset, focus)
    in_focus = np.array([0.1, -0.05, focus])
    np.testing.assert_allclose(project(moved, in_focus), project(base, in_focus), atol=1e-9)
    far = np.array([0.1, -0.05, 5.0])
    shift = np.linalg.norm(project(moved, far) - project(base, far))
    assert shift == pytest.approx(lens.circle_of_confusion(base.fx, radius, focus, 5.0), rel=1e-9)


@pytest.mark.parametrize(
    "position, first, last", [("START", 0.0, 0.5), ("CENTER", -0.25, 0.25), ("END", -0.5, 0.0)]
)
def test_shutter_times_span_the_shutter(position: str, first: float, last: float) -> None:
    times = lens.shutter_times(10, 0.5, position)
    assert times.min() == pytest.approx(first + 0.025) and times.max() == pytest.approx(last - 0.025)
    assert sorted(lens.order_times(10).tolist()) == list(range(10))


def test_aperture_radius_is_blenders() -> None:
    assert lens.aperture_radius(50.0, 2.0) == pytest.approx(0.0125)
