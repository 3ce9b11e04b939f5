"""Look at a fit: the tracked head, shaded, blended over a tracked dataset's images, with the
landmark points of the mesh drawn on top. ``python -m training.track.overlay DATASET OUT
[--model PATH] [--max-images N]`` writes one PNG per image."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from core.datasets.registry import open_dataset
from core.rig.model import RigModel
from core.rig.params import forward_sequence, params_from_dict

from .correspondence import load_or_find
from .raster import project
from .shading import head_look, shade

BLEND = 0.55  # share of the render where the mesh covers the image
VISIBLE_M = 0.005  # a landmark this much behind the nearest surface at its pixel is hidden


def overlay_images(root: Path, model: RigModel, max_images: int = 0) -> list[tuple[str, np.ndarray]]:
    """(image file name, (H,W,3) uint8 overlay) for the dataset's images in order."""
    from PIL import Image

    dataset = open_dataset(root, rig_model=model)
    look = head_look(model)
    corr = load_or_find(model)
    faces = np.asarray(model.faces, np.int64)
    out = []
    for frame in dataset.frames[: max_images or None]:
        cam = frame.camera
        verts = forward_sequence(model, params_from_dict(model, dataset.rig_params[frame.timestep], "FLAME"))[
            0
        ]
        photo = np.asarray(Image.open(frame.image_path).convert("RGB")).astype(np.float64)
        render, frags = shade(look, verts, faces, cam.K, cam.world_to_camera, cam.width, cam.height)
        mix = np.where(frags.mask[..., None], (1 - BLEND) * photo + BLEND * render, photo)
        image = np.clip(mix, 0, 255).astype(np.uint8)
        pts, depth = project(corr.points(verts, faces)[corr.stable], cam.K, cam.world_to_camera)
        for (x, y), z in zip(np.round(pts).astype(int), depth, strict=True):
            # Only the landmarks in sight: the nearest surface at their pixel is their own.
            if 0 <= x < cam.width and 0 <= y < cam.height and z <= frags.depth[y, x] + VISIBLE_M:
                image[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] = (40, 255, 80)
        out.append((Path(frame.image_path).name, image))
    return out


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    from core.rig.loaders import load_model
    from core.rig.standins import resolve_model_path

    parser = argparse.ArgumentParser(prog="python -m training.track.overlay", description=__doc__)
    parser.add_argument("dataset")
    parser.add_argument("out")
    parser.add_argument("--model", default="")
    parser.add_argument("--max-images", type=int, default=0)
    args = parser.parse_args(argv)
    model = load_model(resolve_model_path("FLAME", args.model).path, family="FLAME")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, image in overlay_images(Path(args.dataset), model, args.max_images):
        Image.fromarray(image).save(out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
