"""Expression-dependent skin of the synthetic head (generator version 4): the strain measure and
the material that shades it, rendered with Cycles."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.synthetic import strain
from tests.fixtures import dataset as fx


def _grid(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """A flat n x n vertex sheet in the xy plane (1 cm spacing) and its triangles."""
    ys, xs = np.mgrid[0:n, 0:n]
    verts = np.stack([xs.ravel() * 0.01, ys.ravel() * 0.01, np.zeros(n * n)], -1)
    faces = []
    for r in range(n - 1):
        for c in range(n - 1):
            i = r * n + c
            faces += [(i, i + 1, i + n), (i + 1, i + n + 1, i + n)]
    return verts, np.array(faces)


def _rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def test_rigid_motion_leaves_the_skin_unstrained() -> None:
    verts, faces = _grid()
    moved = verts @ _rotation(0.7).T + np.array([0.3, -0.1, 0.2])
    compress, stretch = strain.skin_strain(verts, moved, strain.mesh_edges(faces), np.ones(len(verts)))
    assert np.abs(compress).max() < 1e-9 and np.abs(stretch).max() < 1e-9


def test_squeezed_skin_compresses_and_pulled_skin_stretches() -> None:
    verts, faces = _grid()
    edges = strain.mesh_edges(faces)
    skin = np.ones(len(verts))
    squeezed = verts * np.array([1.0, 0.6, 1.0])  # brows pulled down onto the eyes: 40 % shorter
    compress, stretch = strain.skin_strain(verts, squeezed, edges, skin)
    assert compress.min() > 0.9 and stretch.max() < 1e-9
    pulled = verts * np.array([1.0, 1.5, 1.0])  # jaw dropped: 50 % longer
    compress, stretch = strain.skin_strain(verts, pulled, edges, skin)
    assert stretch.min() > 0.9 and compress.max() < 1e-9
    # Slight changes (under 5 %) do not shade at all; the skin weight keeps creases off hair.
    compress, _ = strain.skin_strain(verts, verts * np.array([1.0, 0.96, 1.0]), edges, skin)
    assert compress.max() == 0.0
    hairless = np.where(verts[:, 0] < 0.025, 1.0, 0.0)
    compress, _ = strain.skin_strain(verts, squeezed, edges, hairless)
    assert compress[hairless == 0].max() == 0.0 and compress[hairless == 1].min() > 0.9


def test_a_local_fold_stays_local() -> None:
    verts, faces = _grid(10)
    edges = strain.mesh_edges(faces)
    posed = verts.copy()
    posed[verts[:, 1] > 0.045, 1] -= 0.004  # the upper half slides down: one row of edges shortens
    compress, _ = strain.skin_strain(verts, posed, edges, np.ones(len(verts)))
    row = np.round(verts[:, 1] / 0.01).astype(int)
    assert compress[row == 4].min() > 0.5 and compress[row == 5].min() > 0.5
    assert compress[(row <= 1) | (row >= 8)].max() == 0.0


def test_mismatched_vertex_counts_are_refused() -> None:
    verts, faces = _grid()
    with pytest.raises(ValueError, match="differ"):
        strain.skin_strain(verts, verts[:-1], strain.mesh_edges(faces), np.ones(len(verts)))


def test_skin_weight_excludes_hair_eyes_and_lips() -> None:
    n = 4
    masks = {k: np.zeros(n) for k in ("hair", "eyes", "lips", "brows")}
    masks["hair"][1], masks["eyes"][2], masks["lips"][3] = 1.0, 1.0, 0.5
    assert strain.skin_weight(masks).tolist() == [1.0, 0.0, 0.0, 0.5]


def test_the_material_shades_compression_darker_and_stretch_paler(tmp_path: Path) -> None:
    """Cycles render of a small head: the same pose with the skin squeezed everywhere is darker,
    with it stretched paler, and neither changes the silhouette."""
    from core.datasets import load_image, load_mask
    from core.synthetic import regions
    from scripts import make_synthetic as ms
    from scripts.source_package import source_module

    scene = source_module("blender.synthetic.scene")
    Appearance = source_module("blender.synthetic.materials").Appearance  # noqa: N806 (a class)

    model = fx.tiny_flame_model(n_lon=32, n_lat=20)
    recipe = replace(ms.PRESETS[("head", True)], cameras=3, resolution=40, samples=4, denoise=False)
    work = ms.plan(recipe, model)
    masks = regions.head_regions(model)
    sc = scene.reset_scene()
    scene.configure_render(sc, scene.RenderSettings(4, False, 0.0, 2, threads=2))
    rest = model.v_template
    subject = scene.add_subject(
        sc, rest, model.faces, rest, masks, Appearance.from_seed(0), masks["eye_left"], masks["eye_right"]
    )
    scene.add_lights(sc, rest.mean(0), float(np.ptp(rest, axis=0).max()))
    cam = scene.add_cameras(sc, work.cameras[:1])[0]
    skin = strain.skin_weight(masks)
    zero, full = np.zeros(len(rest)), skin
    shots = {}
    for name, (compress, stretch) in {"plain": (zero, zero), "squeezed": (full, zero),
                                      "stretched": (zero, full)}.items():  # fmt: skip
        scene.set_strain(subject, compress, stretch)
        png = scene.render_view(sc, cam, tmp_path / f"{name}.png")
        ms.finish_image(png, tmp_path / f"{name}.jpg", tmp_path / f"{name}_mask.png", 95)
        shots[name] = (load_image(tmp_path / f"{name}.jpg"), load_mask(tmp_path / f"{name}_mask.png"))
    plain, mask = shots["plain"]
    face = (mask > 0.99) & (np.abs(shots["squeezed"][0] - plain).mean(-1) > 0.02)
    assert face.sum() > 20  # a visible patch of skin changed
    for name in ("squeezed", "stretched"):
        assert np.array_equal(shots[name][1] > 0.5, mask > 0.5)
    brightness = {k: float(v[0][face].mean()) for k, v in shots.items()}
    assert brightness["squeezed"] < brightness["plain"] - 0.05
    assert brightness["stretched"] > brightness["plain"] + 0.02
