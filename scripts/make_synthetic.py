"""Render the built-in synthetic datasets with Blender (needs the bpy module: run it with the
project's .venv).

    .venv/bin/python -m scripts.make_synthetic head            # GaussianAvatars format, 16 x 512^2
    .venv/bin/python -m scripts.make_synthetic body            # AvatarReX format, 16 x 512^2
    .venv/bin/python -m scripts.make_synthetic all --small     # the CPU-test variants (4 x 128^2)
    .venv/bin/python -m scripts.make_synthetic head --look capture  # the harder head, 16 x 256^2

A head (FLAME stand-in) goes through a scripted tour of expressions with jaw, neck and gaze
motion; a body (SMPL-X stand-in) through poses. Both wear procedural skin, brows, lips, eyes,
hair and (body) clothes; the head's skin creases, flushes and pales with the expression. They are
lit by three area lights and rendered with Cycles (the head from NeRSemble's frontal arc, the body
from two rings of cameras). One camera is held out (val: novel view) and the last timesteps show
new combinations of expressions / poses (test).

The head's capture look (``--look capture``: blender/synthetic/capture.py) is harder, as real
captures are: glossy view-dependent skin with subsurface scattering and millimetre detail (pores,
freckles, moles, bump), strand hair with anisotropic gloss, smooth eyeballs with a cornea that
follow the gaze, teeth and a dark mouth bag, two hard point lights beside three area lights, and 3
of its 16 cameras held out, each between training cameras (``--val-cameras``). Its default folder
is ``<cache>/synthetic/head_capture``.

Everything that decides the pixels is in the recipe, written to ``recipe.json`` in the dataset;
the same recipe on the same Blender version gives the same dataset. A finished dataset whose
recipe matches is reused (``--force`` renders again); an interrupted one resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from core.datasets.camera import Camera
from core.datasets.frames import Split
from core.datasets.writers import (
    RECIPE_FILE,
    FrameRecord,
    atomic_write_bytes,
    avatarrex_image_path,
    avatarrex_mask_path,
    write_avatarrex,
    write_gaussian_avatars,
)
from core.rig.lbs import RigOutput, forward
from core.rig.model import RigModel

# Bump a subject's version whenever a change here or in blender/synthetic alters its pixels:
# its cached datasets are then rendered again.
# Head version 4: the skin creases and pales with the expression (strain.py); 3 and earlier
# changed with the expression only through the mesh, which a static binding follows by itself.
GENERATOR_VERSIONS = {"head": 4, "body": 3}
# The head's capture look (``--look capture``) has its own versions: 1 is the first.
CAPTURE_VERSION = 1
WHITE = (1.0, 1.0, 1.0)
ARC_SPAN = (93.0, 32.0)  # degrees (horizontal, vertical) of NeRSemble's camera arc
ARC_ELEVATION = 8.0  # the arc's centre row looks slightly down at the face
LAYOUTS = ("ring", "arc")
LOOKS = ("studio", "capture")


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the pixels (and the file layout) of a synthetic dataset."""

    subject: str  # "head" | "body"
    cameras: int
    resolution: int
    train_frames: int
    test_frames: int
    samples: int
    denoise: bool
    noise_threshold: float
    max_bounces: int
    seed: int
    jpeg_quality: int
    hair_thickness: float
    model_name: str = ""
    model_sha256: str = ""
    generator_version: int = 0  # set from GENERATOR_VERSIONS by the presets
    layout: str = "ring"  # "ring": all around (body domes); "arc": frontal rows (NeRSemble's head rig)
    # Fields added later: at their defaults they are left out of recipe_dict, so the recipes of
    # datasets rendered before them still match (and their caches stay valid).
    look: str = "studio"  # "studio": head v4 / body v3; "capture": the harder head (capture.py)
    val_cameras: int = 1  # cameras held out as novel views

    @property
    def format(self) -> str:
        return "gaussian_avatars" if self.subject == "head" else "avatarrex"


_PRESETS: dict[tuple[str, bool], Recipe] = {
    ("head", False): Recipe("head", 16, 512, 32, 8, 8, True, 0.0, 2, 0, 90, 0.008, layout="arc"),
    ("head", True): Recipe("head", 4, 128, 8, 2, 8, True, 0.0, 2, 0, 90, 0.008, layout="arc"),
    ("body", False): Recipe("body", 16, 512, 28, 6, 8, True, 0.0, 2, 0, 90, 0.012),
    ("body", True): Recipe("body", 4, 128, 6, 2, 8, True, 0.0, 2, 0, 90, 0.012),
}
PRESETS = {key: replace(r, generator_version=GENERATOR_VERSIONS[r.subject]) for key, r in _PRESETS.items()}
# The capture look of the head, keyed by --small: 16 cameras of which 3 are held out between
# training cameras (5 with 2 held out for the CPU tests), 256 px, 16 samples denoised for clean highlights.
CAPTURE_PRESETS = {
    small: Recipe("head", cams, res, train, test, 16, True, 0.0, 2, 0, 90, 0.008,
                  generator_version=CAPTURE_VERSION, layout="arc", look="capture", val_cameras=val)
    for small, (cams, res, train, test, val) in ((False, (16, 256, 32, 8, 3)), (True, (5, 96, 4, 2, 2)))
}  # fmt: skip
_LATER_DEFAULTS = {"look": "studio", "val_cameras": 1}


def preset(subject: str, small: bool, look: str = "studio") -> Recipe:
    if look == "studio":
        return PRESETS[(subject, small)]
    if subject != "head":
        raise ValueError(f"the {look} look is made for the head only")
    return CAPTURE_PRESETS[small]


def recipe_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe as stored in recipe.json: fields added later are left out at their defaults."""
    out = asdict(recipe)
    for key, default in _LATER_DEFAULTS.items():
        if out[key] == default:
            del out[key]
    return out


def default_out(subject: str, small: bool, cache_dir: str | None = None, look: str = "studio") -> Path:
    from core.paths import default_cache_dir

    base = Path(cache_dir) if cache_dir else default_cache_dir()
    name = subject if look == "studio" else f"{subject}_{look}"
    return base / "synthetic" / (f"{name}_small" if small else name)


# ----------------------------------------------------------------------------- model


def load_standin(subject: str, model_path: str | None, cache_dir: str | None) -> RigModel:
    """The model to render: ``model_path``, else the free stand-in from the cache."""
    from core.rig import standins
    from core.rig.errors import ModelFileError

    try:
        return standins.load_rig_model("FLAME" if subject == "head" else "SMPLX", model_path or "", cache_dir)
    except ModelFileError as exc:
        raise SystemExit(f"error: {exc}") from None


# ----------------------------------------------------------------------------- layout


@dataclass
class Plan:
    cameras: list[Camera]
    val_cameras: list[int]
    params: dict[int, dict[str, np.ndarray]]
    test_timesteps: list[int]

    def records(self, subject: str) -> list[FrameRecord]:
        out = []
        for t in sorted(self.params):
            for c, cam in enumerate(self.cameras):
                split: Split = (
                    "test" if t in self.test_timesteps else ("val" if c in self.val_cameras else "train")
                )
                if subject == "head":
                    image, mask = f"images/{t:05d}_{c:02d}.jpg", f"fg_masks/{t:05d}_{c:02d}.png"
                else:
                    image, mask = (
                        avatarrex_image_path(cam.camera_id, t),
                        avatarrex_mask_path(cam.camera_id, t, ".png"),
                    )
                out.append(FrameRecord(c, t, split, image, mask))
        return out


def plan(recipe: Recipe, model: RigModel) -> Plan:
    from core.synthetic import layout, motion

    # Every camera frames the whole subject (for the head: down to the stand-in's shoulders), so
    # whatever the held-out camera sees was seen whole by training cameras too. (Version 1 framed
    # only the head and neck: the shoulders were cut off in most training views but not in the
    # held-out one, and half its squared error sat in the bottom quarter of its images.)
    rest = model.v_template
    lo, hi = rest.min(0), rest.max(0)
    centre = (lo + hi) / 2.0
    if recipe.subject == "head":
        train, test = motion.head_performance(model, recipe.train_frames, recipe.test_frames, recipe.seed)
        half = 0.5 * float(np.max(hi - lo)) * 1.1
        distance, rings = 1.0, (5.0, 32.0)
    else:
        train, test = motion.body_performance(model, recipe.train_frames, recipe.test_frames, recipe.seed)
        half = 0.5 * float(np.max(hi - lo)) * 1.02
        distance, rings = 3.4, (8.0, 28.0)
    if recipe.layout == "arc":
        # Version 3 of the head: NeRSemble's frontal 93 x 32 degree arc. (Versions 1-2 put the 16
        # cameras all around, 45 degrees apart per ring; the held-out view was ~35 degrees from
        # any training view, far sparser than the head data our users train on.)
        cams = layout.arc_cameras(recipe.cameras, recipe.resolution, centre, half, distance, ARC_SPAN,
                                  ARC_ELEVATION, recipe.seed)  # fmt: skip
        if recipe.val_cameras > 1:  # several novel views, each between training cameras
            val = layout.held_out_cameras(cams, centre, ARC_ELEVATION, recipe.val_cameras)
        else:
            val = [layout.central_camera(cams, centre, ARC_ELEVATION)]
    else:
        cams = layout.ring_cameras(
            recipe.cameras, recipe.resolution, centre, half, distance, rings, recipe.seed
        )
        val = [layout.frontal_camera(cams, centre)]
    val = val if recipe.cameras > 2 and recipe.val_cameras > 0 else []
    params = {t: p for t, p in enumerate(train + test)}
    test_steps = list(range(len(train), len(train) + len(test)))
    return Plan(cams, val, params, test_steps)


def posed(model: RigModel, subject: str, params: dict[str, np.ndarray]) -> np.ndarray:
    return rig_output(model, subject, params).vertices


def rig_output(model: RigModel, subject: str, params: dict[str, np.ndarray]) -> RigOutput:
    """The forward pass of one timestep: posed vertices and joint transforms."""
    if subject == "head":
        pose = np.concatenate(
            [params["rotation"], params["neck_pose"], params["jaw_pose"], params["eyes_pose"]]
        )
        return forward(model, params["shape"], params["expr"], pose, params["translation"])
    eyes = np.concatenate([params["leye_pose"], params["reye_pose"]])
    pose = np.concatenate(
        [params["global_orient"], params["body_pose"], params["jaw_pose"], eyes,
         params["left_hand_pose"], params["right_hand_pose"]]
    )  # fmt: skip
    return forward(model, params["betas"], params["expression"], pose, params["transl"])


# ----------------------------------------------------------------------------- images


def finish_image(rendered: Path, image_path: Path, mask_path: Path, quality: int) -> None:
    """RGBA render -> JPEG over white (sRGB compositing, as the trainers do) + PNG alpha mask."""
    import io

    from PIL import Image

    with Image.open(rendered) as img:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
    alpha = rgba[..., 3:4]
    rgb = rgba[..., :3] * alpha + np.asarray(WHITE, dtype=np.float32) * (1.0 - alpha)
    jpeg = io.BytesIO()
    Image.fromarray(np.round(rgb * 255.0).astype(np.uint8)).save(jpeg, "JPEG", quality=quality, optimize=True)
    atomic_write_bytes(image_path, jpeg.getvalue())
    png = io.BytesIO()
    Image.fromarray(np.round(alpha[..., 0] * 255.0).astype(np.uint8), "L").save(png, "PNG", optimize=True)
    atomic_write_bytes(mask_path, png.getvalue())


# ----------------------------------------------------------------------------- generation


IN_PROGRESS = ".synthetic_in_progress.json"


def _prepare_folder(out: Path, recipe: Recipe, force: bool) -> bool:
    """Make ``out`` ready for rendering ``recipe``. True when images already rendered for the same
    recipe can be kept (an interrupted run resumes). Only folders this command made are cleared."""
    marker = out / IN_PROGRESS
    ours = marker.is_file() or (out / RECIPE_FILE).is_file()
    if out.exists() and any(out.iterdir()) and not ours:
        raise SystemExit(
            f"error: {out} is not empty and was not made by make_synthetic; choose another --out"
        )
    same = False
    if marker.is_file():
        try:
            same = json.loads(marker.read_text()) == recipe_dict(recipe)
        except (OSError, json.JSONDecodeError):
            same = False
    if force or not same:
        import shutil

        for child in list(out.iterdir()) if out.exists() else []:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(marker, json.dumps(recipe_dict(recipe)).encode())
    return same and not force


def _recipe_matches(out: Path, recipe: Recipe) -> bool:
    path = out / RECIPE_FILE
    if not path.is_file():
        return False
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return stored.get("recipe") == recipe_dict(recipe) and stored.get("complete") is True


def generate(recipe: Recipe, model: RigModel, out: Path, *, force: bool = False, log: Any = None) -> Path:
    """Render (or reuse) the dataset of ``recipe`` into ``out``. Returns ``out``."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    recipe = replace(recipe, model_name=model.source_name, model_sha256=model.source_sha256)
    if not force and _recipe_matches(out, recipe):
        log(f"{recipe.subject}: {out} is up to date (recipe unchanged)")
        return out
    resume = _prepare_folder(out, recipe, force)
    import bpy

    from core.synthetic import regions, strain
    from scripts.source_package import source_module

    scene = source_module("blender.synthetic.scene")
    Appearance = source_module("blender.synthetic.materials").Appearance  # noqa: N806 (a class)

    started = time.time()
    work = plan(recipe, model)
    masks = regions.head_regions(model) if recipe.subject == "head" else regions.body_regions(model)
    look = Appearance.from_seed(recipe.seed)
    sc = scene.reset_scene()
    scene.configure_render(
        sc, scene.RenderSettings(recipe.samples, recipe.denoise, recipe.noise_threshold, recipe.max_bounces)
    )
    rest = model.v_template
    size = float(np.max(rest.max(0) - rest.min(0)))
    capture = None
    if recipe.look == "capture":
        stage = source_module("blender.synthetic.capture")
        capture = stage.CaptureHead(sc, model, masks, look)
        subject = capture.subject
        stage.add_capture_lights(sc, (rest.min(0) + rest.max(0)) / 2.0, size)
    else:
        subject = scene.add_subject(
            sc, rest, model.faces, rest, masks, look, masks["eye_left"], masks["eye_right"]
        )
        scene.add_lights(sc, (rest.min(0) + rest.max(0)) / 2.0, size)
    # The head's skin creases with the expression; the body keeps its version-3 look.
    head = recipe.subject == "head"
    creases = (strain.mesh_edges(model.faces), strain.skin_weight(masks)) if head else None
    cam_objects = scene.add_cameras(sc, work.cameras)
    records = work.records(recipe.subject)
    tmp = out / ".render"
    todo = [
        r
        for r in records
        if not (resume and (out / r.image).is_file() and r.mask and (out / r.mask).is_file())
    ]
    log(f"{recipe.subject}: {len(records)} images ({len(records) - len(todo)} already there) -> {out}")
    render_times: list[float] = []
    current_t = None
    for i, rec in enumerate(todo):
        if rec.timestep != current_t:
            rig = rig_output(model, recipe.subject, work.params[rec.timestep])
            verts = rig.vertices
            if capture is not None:
                capture.pose(rig.transforms)
            if creases is not None:
                scene.set_strain(subject, *strain.skin_strain(rest, verts, *creases))
            verts = scene.hair_shell(verts, model.faces, masks["hair"], recipe.hair_thickness)
            scene.set_vertices(subject, verts)
            current_t = rec.timestep
        t0 = time.time()
        png = scene.render_view(sc, cam_objects[rec.camera_index], tmp / "view.png")
        assert rec.mask is not None
        finish_image(png, out / rec.image, out / rec.mask, recipe.jpeg_quality)
        render_times.append(time.time() - t0)
        mean = float(np.mean(render_times))
        log(f"  {i + 1}/{len(todo)} t={rec.timestep} {work.cameras[rec.camera_index].camera_id}: "
            f"{render_times[-1]:.1f} s, about {mean * (len(todo) - i - 1) / 60:.0f} min left")  # fmt: skip
    (tmp / "view.png").unlink(missing_ok=True)
    if tmp.exists():
        tmp.rmdir()
    del bpy

    info = {
        "recipe": recipe_dict(recipe),
        "complete": True,
        "format": recipe.format,
        "appearance": look.as_dict(),
        "val_camera": work.cameras[work.val_cameras[0]].camera_id if work.val_cameras else None,
        "val_cameras": [work.cameras[c].camera_id for c in work.val_cameras],
        "test_timesteps": work.test_timesteps,
        "images": len(records),
        "seconds": round(time.time() - started, 1),
        "seconds_per_image": round(float(np.mean(render_times)), 2) if render_times else None,
        "blender": _blender_version(),
        "command": _command(recipe),
        "background_color": list(WHITE),
    }
    if recipe.subject == "head":
        write_gaussian_avatars(out, work.cameras, records, work.params, background=WHITE, recipe=info)
    else:
        val = [work.cameras[c].camera_id for c in work.val_cameras]
        write_avatarrex(out, work.cameras, work.params, val_cameras=val, test_timesteps=work.test_timesteps,
                        recipe=info, num_expression=max(10, model.num_expression))  # fmt: skip
    (out / IN_PROGRESS).unlink(missing_ok=True)
    log(f"{recipe.subject}: done in {info['seconds']:.0f} s ({len(records)} images, {_size_mb(out):.1f} MB)")
    return out


def _blender_version() -> str:
    import bpy

    return str(bpy.app.version_string)


def _command(recipe: Recipe) -> str:
    look = "" if recipe.look == "studio" else f" --look {recipe.look}"
    small = next((s for s in (False, True) if recipe.subject in ("head", "body") and replace(
        preset(recipe.subject, s, recipe.look), model_name=recipe.model_name,
        model_sha256=recipe.model_sha256) == recipe), None)  # fmt: skip
    if small is not None:
        return f"python -m scripts.make_synthetic {recipe.subject}{look}{' --small' if small else ''}"
    return (
        f"python -m scripts.make_synthetic {recipe.subject}{look} --cameras {recipe.cameras} --resolution "
        f"{recipe.resolution} --train-frames {recipe.train_frames} --test-frames {recipe.test_frames} "
        f"--samples {recipe.samples} --seed {recipe.seed} --layout {recipe.layout}"
        + (f" --val-cameras {recipe.val_cameras}" if recipe.val_cameras != 1 else "")
    )


def _size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("subject", choices=["head", "body", "all"])
    parser.add_argument("--small", action="store_true", help="the CPU-test variant (4 cameras, 128x128)")
    parser.add_argument("--out", help="output folder (default: <cache>/synthetic/<subject>[_small])")
    parser.add_argument("--cache-dir", help="cache folder holding the stand-ins and the default output")
    parser.add_argument("--model", help="FLAME / SMPL-X model file instead of the stand-in")
    for name, kind in (("cameras", int), ("resolution", int), ("train-frames", int), ("test-frames", int),
                       ("samples", int), ("seed", int), ("jpeg-quality", int)):  # fmt: skip
        parser.add_argument(f"--{name}", type=kind)
    parser.add_argument("--layout", choices=LAYOUTS, help="camera rig: ring (all around) or arc (frontal)")
    parser.add_argument("--look", choices=LOOKS, default="studio",
                        help="head only: studio (version 4) or capture (glossy skin, eyeballs, "
                        "teeth, point lights, 3 held-out cameras; synthetic/head_capture)")  # fmt: skip
    parser.add_argument("--val-cameras", type=int, help="cameras held out as novel views (arc layout)")
    parser.add_argument("--no-denoise", action="store_true")
    parser.add_argument("--force", action="store_true", help="render again even if the recipe matches")
    args = parser.parse_args(argv)
    subjects = ["head", "body"] if args.subject == "all" else [args.subject]
    if args.out and len(subjects) > 1:
        parser.error("--out needs a single subject")
    if args.look != "studio" and args.subject != "head":
        parser.error(f"--look {args.look} is made for the head only")
    for subject in subjects:
        recipe = preset(subject, args.small, args.look)
        overrides = {
            field: getattr(args, field)
            for field in (
                "cameras",
                "resolution",
                "train_frames",
                "test_frames",
                "samples",
                "seed",
                "jpeg_quality",
                "layout",
                "val_cameras",
            )
            if getattr(args, field) is not None
        }
        if args.no_denoise:
            overrides["denoise"] = False
        recipe = replace(recipe, **overrides)
        model = load_standin(subject, args.model, args.cache_dir)
        out = Path(args.out) if args.out else default_out(subject, args.small, args.cache_dir, args.look)
        generate(recipe, model, out, force=args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
