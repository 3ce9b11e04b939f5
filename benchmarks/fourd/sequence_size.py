"""Size and faithfulness of a baked 4D sequence (.gavatar4d) per bake tolerance, from a 4D run.

    .venv/bin/python -m benchmarks.fourd.sequence_size --run OUT [--tolerance 0 0.00392 ...] [--device cuda]

OUT is a ``fit --rig none`` output folder (its checkpoint.pt). The field is evaluated at every baked
time (training/fourd/bake.py) and written as version 1 (every Gaussian at every frame) and as
version 2 at each tolerance (core/avatar/sequence_split.py). For each file: Gaussians stored once
(still), Gaussian-frames stored per frame (listed), MB per second of animation, the time to read
one frame (SequenceFile.frame, median over the frames, the file already in the page cache), and
PSNR of its renders against renders of the field itself at the same times, from every training
camera and the held-out ones (the trainer's rasterizer; "all" pools the squared errors of every
image, "worst" is the worst image); and the held-out scores against the dataset's images
(``val_psnr``: held-out camera, ``test_psnr``: held-out times; mean PSNR per image, as the trainer
scores them), for the field itself in the first line. Prints one JSON line per file.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch


def load_trainer(run: Path, device: str = "cpu", backend: str = "auto") -> Any:
    from training.fourd.config import FourDConfig
    from training.fourd.trainer import CHECKPOINT_NAME, SequenceTrainer
    from training.runtime.protocol import EventWriter

    state = torch.load(run / CHECKPOINT_NAME, map_location="cpu", weights_only=False)
    cfg = FourDConfig.from_dict({**state["config"], "out": str(run), "device": device, "backend": backend})
    trainer = SequenceTrainer(cfg, EventWriter(io.StringIO()), resume=True)
    trainer.setup()
    return trainer


def cameras(trainer: Any) -> list[tuple[torch.Tensor, torch.Tensor, tuple[int, int]]]:
    """One view per distinct camera pose of the training and held-out splits (D-NeRF names each
    image's camera apart, so poses, not names, tell cameras apart)."""
    seen: dict[tuple, tuple[torch.Tensor, torch.Tensor, tuple[int, int]]] = {}
    for split in (trainer.train, trainer._held_out("val"), trainer._held_out("test")):
        if split is None:
            continue
        for i in range(len(split)):
            key = tuple(np.round(split.viewmats[i].cpu().numpy(), 4).ravel()) + tuple(split.sizes[i])
            seen.setdefault(key, (split.viewmats[i : i + 1], split.ks[i : i + 1], split.sizes[i]))
    return list(seen.values())


DEVICE = torch.device("cpu")  # where the renders run (--device)


def world(means, quats, log_scales, opacity_logits, sh, degree: int) -> Any:
    from training.model.posing import WorldGaussians

    def tensor(values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(values, dtype=np.float32)).to(DEVICE)

    return WorldGaussians(
        tensor(means), torch.nn.functional.normalize(tensor(quats), dim=-1), tensor(log_scales).exp(),
        torch.sigmoid(tensor(opacity_logits)), tensor(sh), degree, None,
    )  # fmt: skip


@torch.no_grad()
def render_all(trainer: Any, views: list, worlds: list) -> list[torch.Tensor]:
    images = []
    for w in worlds:
        for viewmat, k, (width, height) in views:
            images.append(trainer.renderer.render(w, viewmat, k, width, height)[0][0].clamp(0, 1))
    return images


def psnr(errors: list[float]) -> dict[str, float]:
    def db(mse: float) -> float:
        return float("inf") if mse <= 0 else float(-10.0 * np.log10(mse))

    return {"psnr_all": db(float(np.mean(errors))), "psnr_worst": db(float(np.max(errors)))}


@torch.no_grad()
def held_out(trainer: Any, times: list[float], worlds: list) -> dict[str, float]:
    """Mean PSNR of the held-out images against the frame at each image's time."""
    from training.loop.losses import psnr as image_psnr

    scores = {}
    for split in ("val", "test"):
        data = trainer._held_out(split)
        if data is None:
            continue
        values = []
        for i in range(len(data)):
            k = int(np.argmin(np.abs(np.asarray(times) - trainer.times[data.timesteps[i]])))
            width, height = data.sizes[i]
            image = trainer.renderer.render(
                worlds[k], data.viewmats[i : i + 1], data.ks[i : i + 1], width, height
            )
            values.append(float(image_psnr(image[0][0].clamp(0, 1), data.cache.batch([i])[0][0])))
        scores[f"{split}_psnr"] = float(np.mean(values))
    return scores


def measure(trainer: Any, frames: Any, path: Path, views: list, reference: list, **extra: Any) -> dict:
    from core.avatar.sequence_file import SequenceFile

    seq = SequenceFile(path)
    seq.verify()
    reads, worlds = [], []
    for k in range(seq.num_frames):
        seq.frame(k)  # pages in
        start = time.perf_counter()
        f = seq.frame(k)
        reads.append(time.perf_counter() - start)
        worlds.append(world(f.means, f.quats, f.log_scales, f.opacity_logits, seq.sh, trainer.cfg.sh_degree))
    images = render_all(trainer, views, worlds)
    errors = [float((a - b).square().mean()) for a, b in zip(images, reference, strict=True)]
    seconds = seq.num_frames / seq.fps
    return {
        **extra,
        "version": seq.version,
        "entries_fraction": seq.num_entries / (seq.num_frames * seq.num_gaussians),
        "mb": path.stat().st_size / 1e6,
        "mb_per_second": path.stat().st_size / 1e6 / seconds,
        "read_ms": 1000.0 * float(np.median(reads)),
        **psnr(errors),
        **held_out(trainer, frames.times, worlds),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", required=True, type=Path, help="a fit --rig none output folder")
    parser.add_argument("--tolerance", type=float, nargs="+", default=[0.0, 1 / 1000, 1 / 255, 1 / 100])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--backend", default="auto", help="auto: gsplat on cuda, pairs on cpu")
    args = parser.parse_args(argv)
    global DEVICE
    DEVICE = torch.device(args.device)

    from core.avatar.sequence_writer import write_sequence
    from tests.fixtures.sequence import write_version1_sequence
    from training.fourd.bake import trainer_frames

    trainer = load_trainer(args.run, args.device, args.backend)
    frames = trainer_frames(trainer)
    views = cameras(trainer)
    degree = trainer.cfg.sh_degree
    exact = [
        world(
            frames.means[k],
            frames.quats[k],
            frames.log_scales[k],
            frames.opacity_logits[k],
            frames.sh,
            degree,
        )
        for k in range(len(frames.times))
    ]
    reference = render_all(trainer, views, exact)
    head = {
        "gaussians": int(frames.means.shape[1]), "frames": len(frames.times), "fps": frames.fps,
        "views": len(views), "images": len(reference),
    }  # fmt: skip
    print(json.dumps({"run": str(args.run), **head, **held_out(trainer, frames.times, exact)}), flush=True)
    arrays = {
        "sh": frames.sh, "means": frames.means, "quats": frames.quats, "log_scales": frames.log_scales,
        "opacity_logits": frames.opacity_logits,
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "v1.gavatar4d"
        write_version1_sequence(path, arrays, fps=frames.fps)
        print(json.dumps(measure(trainer, frames, path, views, reference, tolerance=None)), flush=True)
        for tolerance in args.tolerance:
            split = frames.split(tolerance)
            path = Path(folder) / f"v2_{tolerance:g}.gavatar4d"
            write_sequence(
                path, frames.sh, frames.means, frames.quats, frames.log_scales, frames.opacity_logits,
                fps=frames.fps, times=frames.times, listed=split.listed,
            )  # fmt: skip
            row = measure(trainer, frames, path, views, reference, tolerance=tolerance)
            print(json.dumps({**row, "still_fraction": float(split.still.mean())}), flush=True)


if __name__ == "__main__":
    main()
