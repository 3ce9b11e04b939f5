"""Tracking accuracy and speed of ``python -m training track`` on ground-truth clips of the FLAME
stand-in (CPU rasterizer, skin-like shading, known parameters).

Monocular: one camera, the head turning up to +-``--yaw`` degrees with talking-like expressions,
blinks and gaze; the focal length is estimated (as for a user's video). Multi-view: ``--views``
cameras on an arc like NeRSemble's (93 degrees across) with their calibration. Each clip goes
through the real command line (landmarks, masks, fit, dataset written and read back with
core/datasets), then prints:
- detector error: mediapipe's landmarks against the true mesh's landmark points (px);
- reprojection error: the tracked mesh's landmark points against the true ones (px);
- vertex error after a per-frame similarity alignment (mm; face region and whole head);
- seconds per frame (landmarks + masks + writing, and the fit) on this machine.

Run:  .venv/bin/python -m benchmarks.track.accuracy [--frames 300] [--size 512] [--views 16]
          [--yaw 45] [--multiview-frames 30] [--skip-multiview] [--device cpu]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.datasets.registry import open_dataset  # noqa: E402
from core.rig.loaders import load_model  # noqa: E402
from core.rig.model import RigModel  # noqa: E402
from core.rig.params import forward_sequence, params_from_dict  # noqa: E402
from core.rig.standins import standin_path  # noqa: E402
from training.cli import main  # noqa: E402
from training.track import groundtruth as gt  # noqa: E402
from training.track.correspondence import Correspondence, load_or_find  # noqa: E402
from training.track.fitter import View  # noqa: E402
from training.track.landmarks import FaceLandmarker  # noqa: E402
from training.track.raster import project  # noqa: E402
from training.track.shading import head_look  # noqa: E402


def run_track(argv: list[str]) -> tuple[list[dict], float, float]:
    """Events, wall seconds and CPU seconds (all threads of this process: on a shared machine the
    CPU time says what the work costs, the wall time what it took under the load there was)."""
    buffer = io.StringIO()
    start, cpu_start = time.perf_counter(), time.process_time()
    with redirect_stdout(buffer):
        code = main(["track", *argv])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    events = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    if code != 0:
        raise SystemExit(f"track failed ({code}): {events[-1]}")
    return events, seconds, cpu


def tracked(model: RigModel, root: Path) -> tuple[np.ndarray, list[View]]:
    dataset = open_dataset(root, rig_model=model)
    verts = np.stack(
        [
            forward_sequence(model, params_from_dict(model, dataset.rig_params[t], "FLAME"))[0]
            for t in sorted(dataset.rig_params)
        ]
    )
    cams: dict[str, View] = {}
    for f in dataset.frames:
        c = f.camera
        cams.setdefault(
            c.camera_id, View(K=c.K, world_to_camera=c.world_to_camera, width=c.width, height=c.height)
        )
    return verts, [cams[k] for k in sorted(cams)]


def landmark_px(corr: Correspondence, faces: np.ndarray, verts: np.ndarray, view: View) -> np.ndarray:
    """(T,478,2) pixels of the landmark points on ``verts`` seen by ``view``."""
    return np.stack([project(corr.points(v, faces), view.K, view.world_to_camera)[0] for v in verts])


def detector_error(images: list[np.ndarray], truth_px: np.ndarray, used: np.ndarray) -> float:
    marker = FaceLandmarker()
    errors = []
    try:
        for image, truth in zip(images, truth_px, strict=True):
            found = marker(image)
            if found is not None:
                errors.append(np.linalg.norm(found.points[used] - truth[used], axis=1).mean())
    finally:
        marker.close()
    return float(np.mean(errors)) if errors else float("nan")


def save(folder: Path, images: list[np.ndarray]) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for t, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{t:05d}.png")


def monocular(model: RigModel, corr: Correspondence, args: argparse.Namespace, work: Path) -> dict:
    seq = gt.talking_sequence(model, args.frames, max_yaw_deg=args.yaw, seed=1)
    truth = gt.posed_vertices(model, seq)
    view = gt.front_view(model, args.size)
    start = time.perf_counter()
    images = gt.render_frames(model, head_look(model), truth, view)
    render_s = time.perf_counter() - start
    save(work / "mono", images)
    faces = np.asarray(model.faces)
    used = corr.stable & (corr.face >= 0)
    truth_px = landmark_px(corr, faces, truth, view)
    events, seconds, cpu = run_track(
        ["--video", str(work / "mono"), "--model", str(args.model), "--out", str(work / "mono_out"),
         "--device", args.device]
    )  # fmt: skip
    fitted, views = tracked(model, work / "mono_out")
    info = json.loads((work / "mono_out" / "track.json").read_text())
    kept = info["source_frames"]
    fit_px = landmark_px(corr, faces, fitted, views[0])
    return {
        "clip": f"monocular, {args.frames} frames, {args.size}px, yaw +-{args.yaw:g} deg",
        "render_s": render_s,
        "detector_px": detector_error(images[:60], truth_px[:60], used),
        "reprojection_px": float(np.linalg.norm(fit_px[:, used] - truth_px[kept][:, used], axis=-1).mean()),
        "fit_rmse_px": events[-1]["rmse_px"],
        "face_mm": gt.vertex_error_mm(fitted, truth[kept], gt.face_region(model)),
        "head_mm": gt.vertex_error_mm(fitted, truth[kept]),
        "focal_px": {"true": float(view.K[0, 0]), "estimated": float(views[0].K[0, 0])},
        "frames_without_face": events[-1]["frames_without_face"],
        "s_per_frame": seconds / args.frames,
        "cpu_s_per_frame": cpu / args.frames,
    }


def multiview(model: RigModel, corr: Correspondence, args: argparse.Namespace, work: Path) -> dict:
    frames = args.multiview_frames
    seq = gt.talking_sequence(model, frames, max_yaw_deg=30.0, seed=2)
    truth = gt.posed_vertices(model, seq)
    look = head_look(model)
    views = gt.arc_views(model, args.views, args.size)
    cams = []
    for c, view in enumerate(views):
        save(work / "capture" / f"cam{c:02d}", gt.render_frames(model, look, truth, view))
        w2c = view.world_to_camera.tolist()
        cams.append({"id": f"cam{c:02d}", "K": view.K.tolist(), "world_to_camera": w2c, "width": view.width,
                     "height": view.height})  # fmt: skip
    (work / "calibration.json").write_text(json.dumps({"cameras": cams}))
    events, seconds, cpu = run_track(
        ["--video", str(work / "capture"), "--calibration", str(work / "calibration.json"), "--model",
         str(args.model), "--out", str(work / "mv_out"), "--device", args.device]
    )  # fmt: skip
    fitted, _ = tracked(model, work / "mv_out")
    faces = np.asarray(model.faces)
    used = corr.stable & (corr.face >= 0)
    reproj = [
        np.linalg.norm(
            landmark_px(corr, faces, fitted, v)[:, used] - landmark_px(corr, faces, truth, v)[:, used],
            axis=-1,
        ).mean()
        for v in views
    ]
    face = gt.face_region(model)
    return {
        "clip": f"multi-view, {args.views} cameras, {frames} frames, {args.size}px",
        "reprojection_px": float(np.mean(reproj)),
        "fit_rmse_px": events[-1]["rmse_px"],
        "face_mm": gt.vertex_error_mm(fitted, truth, face),
        "head_mm": gt.vertex_error_mm(fitted, truth),
        "face_mm_unaligned": float(np.linalg.norm(fitted[:, face] - truth[:, face], axis=-1).mean() * 1000.0),
        "s_per_frame": seconds / frames,
        "cpu_s_per_frame": cpu / frames,
        "cpu_s_per_image": cpu / (frames * args.views),
    }


def main_cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--yaw", type=float, default=45.0)
    parser.add_argument("--views", type=int, default=16)
    parser.add_argument("--multiview-frames", type=int, default=30)
    parser.add_argument("--skip-multiview", action="store_true")
    parser.add_argument("--skip-monocular", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default=str(standin_path("FLAME")))
    args = parser.parse_args()
    model = load_model(args.model, family="FLAME")
    corr = load_or_find(model)
    print(f"landmarks with a stable place on the mesh: {int(corr.stable.sum())} of 478")
    with tempfile.TemporaryDirectory(prefix="track_bench_") as tmp:
        clips = ([] if args.skip_monocular else [monocular]) + ([] if args.skip_multiview else [multiview])
        for clip in clips:
            result = clip(model, corr, args, Path(tmp))
            result["load_average"] = os.getloadavg()[0]  # this machine is shared: wall times vary
            print(json.dumps(result, indent=1), flush=True)


if __name__ == "__main__":
    main_cli()
