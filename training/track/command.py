"""``python -m training track``: frames -> landmarks and masks -> fitted FLAME parameters -> a
GaussianAvatars-layout dataset (output.py). Same progress protocol, exit codes and SIGTERM
handling as ``fit``: a stop request ends the run at the next frame or iteration, removes what was
staged and exits 75 (tracking has no checkpoint to resume from: run it again)."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.datasets.camera import look_at
from core.rig.model import RigModel
from training.errors import DatasetError, ExitCode, Interrupted, NoCudaError, RigModelError
from training.runtime.protocol import EventWriter
from training.runtime.signals import StopRequest

from .calibration import CalibratedCamera, read_calibration
from .correspondence import Correspondence
from .fitter import FitSettings, LandmarkFitter, View
from .landmarks import NUM_LANDMARKS, FaceLandmarker, LandmarkModelMissingError, PersonSegmenter
from .output import StagingFolder, check_output, image_name, write_dataset
from .sources import VideoInfo, camera_sources, count_frames, frames_of, image_files, is_capture_folder

LOG = logging.getLogger("training")

MOST_MISSING = 0.5  # stop when more than this fraction of the frames shows no face
MONOCULAR_DISTANCE = 1.0  # the single camera sits this far in front of the world origin


@dataclass
class Capture:
    """The cameras of the input and, per camera, where its frames come from."""

    camera_ids: list[str]
    sources: list[Path | list[Path]]  # a video, a folder of images, or the image files in order
    calibration: list[CalibratedCamera | None]


def _dataset_capture(root: Path, model: RigModel) -> Capture | None:
    """A dataset folder the readers know (Gaussian Head Avatar, GaussianAvatars, ...): its images
    and cameras, to track with FLAME whatever rig (or none) it came with. None: not a dataset."""
    from core.datasets.errors import DatasetError as ReaderError
    from core.datasets.registry import detect_format, open_dataset

    try:
        detect_format(root)
    except ReaderError:
        return None
    try:
        dataset = open_dataset(root, rig_model=model)
    except ReaderError as exc:
        raise DatasetError(f"{root} looks like a dataset but cannot be read: {exc}") from exc
    images: dict[str, dict[int, Path]] = {}
    cameras: dict[str, CalibratedCamera] = {}
    for frame in dataset.frames:
        cam = frame.camera
        known = cameras.setdefault(
            cam.camera_id, CalibratedCamera(cam.camera_id, cam.K, cam.world_to_camera, cam.width, cam.height)
        )
        if not (np.allclose(known.K, cam.K) and np.allclose(known.world_to_camera, cam.world_to_camera)):
            raise DatasetError(
                f"Camera {cam.camera_id} of {root} moves between frames: track a fixed capture."
            )
        images.setdefault(cam.camera_id, {})[frame.timestep] = frame.image_path
    common = sorted(set.intersection(*(set(by_time) for by_time in images.values())))
    if not common:
        raise DatasetError(f"{root} has no timestep that every camera sees.")
    every = set().union(*(set(by_time) for by_time in images.values()))
    if len(common) < len(every):
        LOG.warning("%d timestep(s) of %s lack some camera and are left out", len(every) - len(common), root)
    ids = sorted(images)
    LOG.info(
        "tracking the %s dataset %s: %d cameras, %d timesteps", dataset.format, root, len(ids), len(common)
    )
    return Capture(ids, [[images[c][t] for t in common] for c in ids], [cameras[c] for c in ids])


def _capture(args: argparse.Namespace, model: RigModel) -> Capture:
    video = Path(args.video)
    if not video.exists():
        raise DatasetError(f"Input {video} does not exist.")
    calib = read_calibration(Path(args.calibration)) if args.calibration else None
    if calib is None and video.is_dir() and not image_files(video):
        dataset = _dataset_capture(video, model)
        if dataset is not None:
            return dataset
    if is_capture_folder(video):
        if calib is None:
            raise DatasetError(f"{video} holds one folder per camera: pass their --calibration.")
        sources = camera_sources(video)
        missing = [cid for cid in sources if cid not in calib]
        if missing:
            raise DatasetError(f"Calibration {args.calibration} lacks camera(s) {', '.join(missing)}.")
        ids = list(sources)
        return Capture(ids, [sources[c] for c in ids], [calib[c] for c in ids])
    one = next(iter(calib.values())) if calib else None
    if calib and len(calib) > 1:
        raise DatasetError(f"{video} is one camera but {args.calibration} lists {len(calib)} cameras.")
    return Capture(["cam0"], [video], [one])


def _resize(image: np.ndarray, max_size: int) -> tuple[np.ndarray, float]:
    import cv2

    longest = max(image.shape[:2])
    if max_size <= 0 or longest <= max_size:
        return image, 1.0
    scale = max_size / longest
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def _synchronised(
    capture: Capture, args: argparse.Namespace, infos: list[VideoInfo]
) -> Iterator[list[np.ndarray]]:
    """Frame lists (one image per camera) in order, with --every / --max-frames applied; stops at
    the shortest camera."""
    iters = [frames_of(src, info) for src, info in zip(capture.sources, infos, strict=True)]
    kept = 0
    for index, frames in enumerate(zip(*iters, strict=False)):
        if index % max(args.every, 1):
            continue
        yield list(frames)
        kept += 1
        if args.max_frames and kept >= args.max_frames:
            return


def _ranges(frames: list[int]) -> str:
    """[1,2,3,7] -> '1-3, 7'."""
    parts: list[str] = []
    for f in frames:
        if parts and parts[-1][1] == f - 1:
            parts[-1] = (parts[-1][0], f)
        else:
            parts.append((f, f))
    return ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in parts)


def _monocular_view(width: int, height: int, focal: float) -> View:
    w2c = look_at(np.array([0.0, 0.0, MONOCULAR_DISTANCE]), np.zeros(3))
    k = np.array([[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0], [0.0, 0.0, 1.0]])
    return View(K=k, world_to_camera=w2c, width=width, height=height)


def _load_model(path: str | None) -> RigModel:
    from core.rig.errors import ModelFileError
    from core.rig.loaders import load_model
    from core.rig.standins import StandinMissingError, resolve_model_path

    try:
        choice = resolve_model_path("FLAME", path or "")
        return load_model(choice.path, family="FLAME")
    except StandinMissingError as exc:
        raise RigModelError(str(exc)) from exc
    except ModelFileError as exc:
        raise RigModelError(str(exc), "pass a FLAME-format file with --model") from exc


def run_track(args: argparse.Namespace, events: EventWriter) -> int:
    stop = StopRequest()
    stop.install()
    try:
        return _track(args, events, stop)
    finally:
        stop.uninstall()


def _track(args: argparse.Namespace, events: EventWriter, stop: StopRequest) -> int:
    out = Path(args.out)
    check_output(out)
    model = _load_model(args.model)
    capture = _capture(args, model)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise NoCudaError("--device cuda but no CUDA device is usable", "use --device cpu")
    if device == "cpu":
        torch.set_num_threads(1)  # small batched problems: more threads only contend on a shared CPU
    total = count_frames(capture.sources[0])
    if total is not None:
        total = -(-total // max(args.every, 1))
        total = min(total, args.max_frames) if args.max_frames else total
    name = model.source_name or str(args.model or "stand-in")
    events.emit(
        "start",
        command="track",
        frames=total,
        cameras=capture.camera_ids,
        device=device,
        out=str(out),
        model=name,
    )
    from .correspondence import load_or_find

    try:
        corr = load_or_find(model)
        landmarker = FaceLandmarker()
        segmenter = None if args.no_masks else PersonSegmenter()
    except LandmarkModelMissingError as exc:
        raise DatasetError(str(exc)) from exc
    LOG.info("%d of %d landmarks have a stable place on %s", int(corr.stable.sum()), NUM_LANDMARKS, name)
    run = TrackRun(
        args, events, stop, StagingFolder(out), capture, model, corr, landmarker, segmenter, device, total
    )
    try:
        return run.run()
    except BaseException:
        run.staging.discard()
        raise
    finally:
        landmarker.close()
        if segmenter is not None:
            segmenter.close()


STOPPED = "(none: tracking keeps no checkpoint; run it again)"


@dataclass
class TrackRun:
    """One ``track`` run once its inputs are checked: landmarks and masks per frame, the fit, the
    dataset (in the staging folder, renamed into place at the end)."""

    args: argparse.Namespace
    events: EventWriter
    stop: StopRequest
    staging: StagingFolder
    capture: Capture
    model: RigModel
    corr: Correspondence
    landmarker: FaceLandmarker
    segmenter: PersonSegmenter | None
    device: str
    total: int | None
    started: float = field(default_factory=time.perf_counter)

    def run(self) -> int:
        infos = [VideoInfo() for _ in self.capture.sources]
        obs, sizes, scales, several = self.observe(infos)
        found = np.any(np.all(np.isfinite(obs[..., 0]), axis=-1), axis=1)
        missing = [int(t) for t in np.nonzero(~found)[0]]
        if len(missing) > MOST_MISSING * len(found):
            raise DatasetError(
                f"No face found in {len(missing)} of {len(found)} frames ({_ranges(missing)}): "
                "the input must show a face in most frames."
            )
        if missing:
            LOG.warning("no face found in frame(s) %s: they are left out of the dataset", _ranges(missing))
        views, focal_given = _views(self.args, self.capture, sizes, scales)
        settings = FitSettings(estimate_focal=len(views) == 1 and not focal_given)
        if self.args.iterations is not None:
            settings.iterations = self.args.iterations
        fitter = LandmarkFitter(self.model, self.corr, views, obs, settings, device=self.device)
        try:
            result = fitter.fit(should_stop=lambda: self.stop.requested, progress=self._fit_progress)
        except InterruptedError:
            raise Interrupted(self.stop.signal_name or "SIGTERM", STOPPED) from None
        if settings.estimate_focal:
            for v in views:
                v.K[:2, :2] *= result.focal_scale
            LOG.info("focal length estimated at %.0f px (pass --focal if you know it)", views[0].K[0, 0])

        kept = [int(t) for t in np.nonzero(found)[0]]
        every = max(self.args.every, 1)
        _renumber_images(self.staging.path, kept, len(views), self.segmenter is not None)
        info = {
            "source": str(self.args.video),
            "model": {"name": self.model.source_name, "sha256": self.model.source_sha256},
            "source_frames": [t * every for t in kept],
            "frames_without_face": [t * every for t in missing],
            "several_faces": sorted({t * every for t in several}),
            "landmarks_used": len(fitter.used),
            "rmse_px": [None if not np.isfinite(r) else float(r) for r in result.rmse_px[kept]],
            "focal_estimated": bool(settings.estimate_focal),
            "fps": next((i.fps / every for i in infos if i.fps), None),
            "variable_frame_rate": any(i.variable_rate for i in infos),
            "seconds": time.perf_counter() - self.started,
        }
        write_dataset(
            self.staging.path, self.capture.camera_ids, views, result, kept, self.segmenter is not None, info
        )
        self.staging.commit()
        rmse = float(np.nanmean(result.rmse_px[kept]))
        LOG.info("tracked %d frames (landmark error %.2f px) into %s", len(kept), rmse, self.staging.out)
        self.events.emit(
            "done",
            out=str(self.staging.out),
            frames=len(kept),
            cameras=len(views),
            rmse_px=rmse,
            frames_without_face=info["frames_without_face"],
            focal=float(views[0].K[0, 0]),
            seconds=info["seconds"],
        )
        return int(ExitCode.OK)

    def observe(
        self, infos: list[VideoInfo]
    ) -> tuple[np.ndarray, list[tuple[int, int]], list[float], list[int]]:
        """Landmarks (T,C,478,2) of every frame and camera, with images and masks written as they
        come; also each camera's image size and downscale factor, and the frames with several faces."""
        from PIL import Image

        ncams = len(self.capture.camera_ids)
        points: list[np.ndarray] = []
        several: list[int] = []
        sizes: list[tuple[int, int] | None] = [None] * ncams
        scales = [1.0] * ncams
        (self.staging.path / "images").mkdir()
        if self.segmenter is not None:
            (self.staging.path / "fg_masks").mkdir()
        for t, frames in enumerate(_synchronised(self.capture, self.args, infos)):
            if self.stop.requested or (self.args.stop_after is not None and t >= self.args.stop_after):
                raise Interrupted(self.stop.signal_name or "SIGTERM", STOPPED)
            row = np.full((ncams, NUM_LANDMARKS, 2), np.nan)
            for c, raw in enumerate(frames):
                image, scales[c] = _resize(_undistort(raw, self.capture.calibration[c]), self.args.max_size)
                size = (image.shape[1], image.shape[0])
                first = sizes[c] = sizes[c] or size
                if first != size:
                    raise DatasetError(
                        f"Frame {t} of camera {self.capture.camera_ids[c]} is {size[0]}x{size[1]}, not "
                        f"{first[0]}x{first[1]} like the frames before it."
                    )
                face = self.landmarker(image)
                if face is not None:
                    row[c] = face.points
                    if face.faces_found > 1:
                        several.append(t)
                Image.fromarray(image).save(self.staging.path / "images" / image_name(t, c))
                if self.segmenter is not None:
                    mask = (self.segmenter(image) * 255.0 + 0.5).astype(np.uint8)
                    Image.fromarray(mask).save(self.staging.path / "fg_masks" / image_name(t, c))
            points.append(row)
            if t % 10 == 0:
                share = None if not self.total else 0.5 * min(1.0, (t + 1) / self.total)
                self.events.emit(
                    "progress", stage="landmarks", frame=t + 1, frames=self.total, progress=share
                )
        if not points:
            raise DatasetError(f"{self.args.video} holds no frames.")
        rotation = next((i.rotation for i in infos if i.rotation), 0)
        if rotation:
            LOG.info("the video is stored rotated by %d degrees: frames were turned upright", rotation)
        if several:
            LOG.warning(
                "several faces in frame(s) %s: the largest one is tracked", _ranges(sorted(set(several)))
            )
        return np.stack(points), [s or (0, 0) for s in sizes], scales, several

    def _fit_progress(self, stage: str, done: int, total: int, loss: float) -> None:
        self.events.emit(
            "progress", stage=f"fit-{stage}", iteration=done, iterations=total, loss=loss,
            progress=0.5 + 0.5 * done / total,
        )  # fmt: skip


def _undistort(image: np.ndarray, calib: CalibratedCamera | None) -> np.ndarray:
    if calib is None or calib.dist is None or not np.any(calib.dist):
        return image
    import cv2

    return cv2.undistort(image, calib.K, calib.dist)


def _views(
    args: argparse.Namespace, capture: Capture, sizes: list[tuple[int, int]], scales: list[float]
) -> tuple[list[View], bool]:
    views = []
    for calib, size, scale in zip(capture.calibration, sizes, scales, strict=True):
        width, height = size
        if calib is None:
            focal = args.focal * scale if args.focal else float(max(width, height))
            views.append(_monocular_view(width, height, focal))
            continue
        if (round(calib.width * scale), round(calib.height * scale)) != (width, height):
            raise DatasetError(
                f"Camera {calib.camera_id} is calibrated for {calib.width}x{calib.height} but its frames are "
                f"{round(width / scale)}x{round(height / scale)}."
            )
        k = calib.K.copy()
        k[:2] *= scale
        k[:2, 2] = (calib.K[:2, 2] + 0.5) * scale - 0.5  # pixel centres at integers at either size
        views.append(View(K=k, world_to_camera=calib.world_to_camera.copy(), width=width, height=height))
    return views, bool(args.focal) or capture.calibration[0] is not None


def _renumber_images(root: Path, kept: list[int], ncams: int, masks: bool) -> None:
    """Drop the frames without a face and number the rest 0.. (the dataset's timesteps)."""
    folders = ["images"] + (["fg_masks"] if masks else [])
    keep = set(kept)
    for folder in folders:
        for path in (root / folder).iterdir():
            if int(path.name[:5]) not in keep:
                path.unlink()
    for new, old in enumerate(kept):
        if new != old:
            for folder in folders:
                for c in range(ncams):
                    (root / folder / image_name(old, c)).rename(root / folder / image_name(new, c))
