"""The held-out PSNR of an avatar trained on our tracking against the same training on the true
parameters (issue 22's last aim: within 0.5 dB).

``prepare`` (CPU, minutes): renders the FLAME stand-in with known parameters (a talking head
turning +-``--yaw`` degrees) from ``--views`` cameras on NeRSemble's arc with the tracker's CPU
rasterizer, writes the images as a capture folder + calibration JSON, runs
``python -m training track`` on it, and writes beside the tracked dataset a GaussianAvatars
dataset of the same images with the TRUE parameters, the renderer's silhouettes as masks, and the
tracked dataset's split (held-out middle camera = val, last tenth of the frames = test), cameras
(the calibration's world in both) and image names. Both datasets name the render's background
colour, so the trainer takes the images as they are in both and the held-out targets are the same
pixels; the tracker's masks (mediapipe's) only feed the tracked run's mask loss.

``train`` (a GPU): trains the same settings on both datasets (``fit``, one after the other or both
at once with ``--parallel``), scores each with ``eval`` at the dataset's resolution (val with the
run's refined tracking, as ``fit`` does; test with the dataset's parameters: the tracked ones for
the tracked avatar, as a user would drive it) and prints the table; ``report`` prints it again
from the saved results.

Run:  .venv/bin/python -m benchmarks.track.avatar_gap prepare --work out/gap [--views 12]
          [--frames 40] [--size 256] [--yaw 30]
      python -m benchmarks.track.avatar_gap train --work out/gap --results DIR [--preset fast]
          [--time-budget 150] [--device cuda] [--parallel]
      python -m benchmarks.track.avatar_gap report --results DIR
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

BACKGROUND = (0.55, 0.6, 0.65)  # training/track/shading.shade's default backdrop
DATASETS = ("truth", "tracked")
SPLITS = ("val", "test")


# ----------------------------------------------------------------------------- prepare (CPU)


def _save_png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _track(capture: Path, calibration: Path, model: Path, out: Path, device: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "training", "track", "--video", str(capture), "--calibration",
               str(calibration), "--model", str(model), "--out", str(out), "--device", device]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0:
        raise SystemExit(f"track failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return events[-1]


def _name_background(dataset: Path) -> None:
    """Say in each split file which backdrop the images have, so ``fit`` takes them as they are."""
    from core.datasets.writers import atomic_write_text

    for split in ("train", *SPLITS):
        path = dataset / f"transforms_{split}.json"
        top = json.loads(path.read_text())
        top["background_color"] = list(BACKGROUND)
        atomic_write_text(path, json.dumps(top, indent=1))


def _truth_params(seq: Any, frame: int) -> dict[str, np.ndarray]:
    pose = seq.pose[frame]
    return {
        "shape": seq.shape,
        "expr": seq.expression[frame],
        "rotation": pose[0],
        "neck_pose": pose[1],
        "jaw_pose": pose[2],
        "eyes_pose": np.concatenate([pose[3], pose[4]]),
        "translation": seq.translation[frame],
    }


def prepare(args: argparse.Namespace) -> None:
    from PIL import Image

    from core.datasets.camera import Camera
    from core.datasets.registry import open_dataset
    from core.datasets.writers import FrameRecord, atomic_write_text, write_gaussian_avatars
    from core.rig.loaders import load_model
    from core.rig.params import forward_sequence, params_from_dict
    from core.rig.standins import standin_path
    from training.track import groundtruth as gt
    from training.track.shading import head_look, shade

    work = Path(args.work)
    truth_root, tracked_root = work / "truth", work / "tracked"
    if truth_root.exists() or tracked_root.exists():
        raise SystemExit(f"{work} already holds truth/ or tracked/: choose a new --work folder.")
    model_path = Path(args.model or standin_path("FLAME"))
    model = load_model(str(model_path), family="FLAME")
    seq = gt.talking_sequence(model, args.frames, max_yaw_deg=args.yaw, seed=args.seed)
    truth = gt.posed_vertices(model, seq)
    views = gt.arc_views(model, args.views, args.size)
    look, faces = head_look(model), np.asarray(model.faces, np.int64)

    start = time.perf_counter()
    ids = [f"cam{c:02d}" for c in range(len(views))]
    silhouettes: dict[tuple[str, int], np.ndarray] = {}
    for cid, view in zip(ids, views, strict=True):
        for t, verts in enumerate(truth):
            image, frags = shade(look, verts, faces, view.K, view.world_to_camera, view.width, view.height,
                                 background=BACKGROUND)  # fmt: skip
            _save_png(work / "capture" / cid / f"{t:05d}.png", image)
            silhouettes[(cid, t)] = (frags.mask * 255).astype(np.uint8)
    calibration = {"cameras": [
        {"id": cid, "K": v.K.tolist(), "world_to_camera": v.world_to_camera.tolist(), "width": v.width,
         "height": v.height} for cid, v in zip(ids, views, strict=True)]}  # fmt: skip
    atomic_write_text(work / "calibration.json", json.dumps(calibration, indent=1))
    print(f"rendered {len(ids)} cameras x {args.frames} frames at {args.size} px in "
          f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip

    start = time.perf_counter()
    done = _track(work / "capture", work / "calibration.json", model_path, tracked_root, args.device)
    info = json.loads((tracked_root / "track.json").read_text())
    print(f"tracked in {time.perf_counter() - start:.0f} s: {json.dumps(done)}", flush=True)
    _name_background(tracked_root)

    # The truth dataset copies the tracked one's split, cameras and names (frame t of the tracked
    # dataset is source frame source_frames[t]), with the true parameters and silhouettes.
    source = info["source_frames"]
    records, cameras = [], []
    by_id = {cid: i for i, cid in enumerate(ids)}
    index_of: dict[str, int] = {}
    for split in ("train", *SPLITS):
        top = json.loads((tracked_root / f"transforms_{split}.json").read_text())
        for entry in top["frames"]:
            cid, t = entry["camera_id"], entry["timestep_index"]
            if cid not in index_of:
                index_of[cid] = entry["camera_index"]
            image = np.asarray(Image.open(tracked_root / entry["file_path"]).convert("RGB"))
            expected = np.asarray(Image.open(work / "capture" / cid / f"{source[t]:05d}.png").convert("RGB"))
            if not np.array_equal(image, expected):
                raise SystemExit(
                    f"tracked image {entry['file_path']} differs from the capture's: not comparable"
                )
            _save_png(truth_root / entry["file_path"], image)
            mask = f"fg_masks/{Path(entry['file_path']).name}"
            _save_png(truth_root / mask, silhouettes[(cid, source[t])])
            records.append(FrameRecord(entry["camera_index"], t, split, entry["file_path"], mask))
    for cid, _ in sorted(index_of.items(), key=lambda item: item[1]):
        v = views[by_id[cid]]
        cameras.append(Camera(camera_id=cid, world_to_camera=v.world_to_camera, K=v.K, width=v.width,
                              height=v.height))  # fmt: skip
    if [index_of[c] for c in sorted(index_of, key=index_of.get)] != list(range(len(cameras))):
        raise SystemExit("the tracked dataset's camera indices are not 0..N-1")
    params = {t: _truth_params(seq, f) for t, f in enumerate(source)}
    write_gaussian_avatars(truth_root, cameras, records, params, background=BACKGROUND)

    # Check: the truth dataset read back drives the rig to the rendered meshes.
    back = open_dataset(truth_root, rig_model=model)
    posed = np.stack([
        forward_sequence(model, params_from_dict(model, back.rig_params[t], "FLAME"))[0]
        for t in sorted(back.rig_params)])  # fmt: skip
    error = float(np.abs(posed - truth[source]).max())
    if error > 1e-4:
        raise SystemExit(f"the truth dataset does not reproduce the rendered meshes ({error:.2e} m)")
    tracked = open_dataset(tracked_root, rig_model=model).rig_params
    fitted = np.stack(
        [forward_sequence(model, params_from_dict(model, tracked[t], "FLAME"))[0] for t in sorted(tracked)]
    )
    summary = {
        "capture": f"{len(ids)} cameras on NeRSemble's arc, {args.frames} frames, {args.size} px, "
        f"yaw +-{args.yaw:g} deg, seed {args.seed}",
        "frames_kept": len(source),
        "track_rmse_px": done.get("rmse_px"),
        "face_mm": gt.vertex_error_mm(fitted, truth[source], gt.face_region(model)),
        "head_mm": gt.vertex_error_mm(fitted, truth[source]),
        "splits": {s: sum(r.split == s for r in records) for s in ("train", *SPLITS)},
        "model": str(model_path),
    }
    atomic_write_text(work / "prepared.json", json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1), flush=True)


# ----------------------------------------------------------------------------- train (GPU)


def _events(stdout: str) -> list[dict[str, Any]]:
    out = []
    for line in stdout.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _fit_command(args: argparse.Namespace, data: Path, out: Path, model: str) -> list[str]:
    command = [sys.executable, "-m", "training", "fit", "--data", str(data), "--rig", "flame", "--model",
               model, "--out", str(out), "--preset", args.preset, "--time-budget", str(args.time_budget),
               "--device", args.device, "--seed", str(args.seed)]  # fmt: skip
    return command + [arg for extra in args.fit_arg for arg in extra.split()]


def _evaluate(args: argparse.Namespace, data: Path, out: Path, split: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "training", "eval", "--avatar", str(out / "avatar.gavatar"), "--data",
               str(data), "--split", split, "--device", args.device]  # fmt: skip
    if split == "val":  # a held-out camera at training timesteps: the run's refined tracking there
        command += ["--tracking", str(out / "tracking.npz")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"eval {split} of {out} failed ({done.returncode}): {done.stderr[-2000:]}")
    last = _events(done.stdout)[-1]
    return {"psnr": last["psnr"], "ssim": last["ssim"], "count": last["count"]}


def train(args: argparse.Namespace) -> None:
    work, results = Path(args.work), Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    model = args.model or json.loads((work / "prepared.json").read_text())["model"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    outcome: dict[str, Any] = {"settings": {"preset": args.preset, "time_budget": args.time_budget,
                                            "device": args.device, "parallel": args.parallel}}  # fmt: skip
    started: dict[str, tuple[subprocess.Popen[str], float]] = {}
    finished: dict[str, tuple[int, str, float]] = {}

    def finish(name: str) -> None:
        process, began = started[name]
        stdout, _ = process.communicate()
        finished[name] = (process.returncode, stdout, time.perf_counter() - began)

    for name in DATASETS:
        with (results / f"fit_{name}.log").open("w") as log:
            process = subprocess.Popen(
                _fit_command(args, work / name, work / f"run_{name}", model),
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
            )  # fmt: skip
        started[name] = (process, time.perf_counter())
        if not args.parallel:
            finish(name)
    for name in DATASETS:
        if name not in finished:
            finish(name)
        code, stdout, wall = finished[name]
        done = next((e for e in reversed(_events(stdout)) if e.get("event") == "done"), None)
        if code != 0 or done is None:
            raise SystemExit(f"fit on {name} failed ({code}); see {results}/fit_{name}.log")
        metrics = done["metrics"]
        keys = ("val_psnr", "val_ssim", "test_psnr", "test_ssim", "iterations", "gaussians", "train_time",
                "eval_resolution")  # fmt: skip
        outcome[name] = {"fit": {k: metrics.get(k) for k in keys}, "wall_s": wall}
    for name in DATASETS:
        for split in SPLITS:
            outcome[name][split] = _evaluate(args, work / name, work / f"run_{name}", split)
    (results / "results.json").write_text(json.dumps(outcome, indent=1))
    print_table(outcome)


def print_table(outcome: dict[str, Any]) -> None:
    rows = [("held-out camera (val)", "val"), ("unseen frames (test)", "test")]
    print("| PSNR dB / SSIM | true parameters | our tracking | gap (true - tracked) |")
    print("| --- | --- | --- | --- |")
    for label, split in rows:
        t, k = outcome["truth"][split], outcome["tracked"][split]
        gap = f"{t['psnr'] - k['psnr']:+.2f} dB / {t['ssim'] - k['ssim']:+.4f}"
        print(f"| {label} | {t['psnr']:.2f} / {t['ssim']:.4f} | {k['psnr']:.2f} / {k['ssim']:.4f} | {gap} |")
    for name in DATASETS:
        fit = outcome[name]["fit"]
        print(f"{name}: {fit['iterations']} iterations, {fit['gaussians']} Gaussians, scored at "
              f"{fit['eval_resolution']} on {outcome[name]['val']['count']} val / "
              f"{outcome[name]['test']['count']} test images")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare", help="render, track and write both datasets (CPU)")
    p.add_argument("--work", required=True)
    p.add_argument("--views", type=int, default=12)
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--yaw", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--model", default=None, help="FLAME-format file (default: the stand-in)")
    p.add_argument("--device", default="cpu", help="the tracker's device")
    t = sub.add_parser("train", help="train and score both datasets (a GPU)")
    t.add_argument("--work", required=True)
    t.add_argument("--results", required=True)
    t.add_argument("--preset", default="fast")
    t.add_argument("--time-budget", type=float, default=150.0)
    t.add_argument("--device", default="cuda")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--parallel", action="store_true", help="both fits at once")
    t.add_argument("--model", default=None, help="the FLAME-format file prepare used (default: its path)")
    t.add_argument("--fit-arg", action="append", default=[], help="more fit options, e.g. '--backend pairs'")
    r = sub.add_parser("report", help="print the table from a results folder")
    r.add_argument("--results", required=True)
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args)
    elif args.step == "train":
        train(args)
    else:
        print_table(json.loads((Path(args.results) / "results.json").read_text()))


if __name__ == "__main__":
    main()
