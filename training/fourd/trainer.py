"""The 4D training loop: the same protocol, exit codes, stop and checkpoint behaviour as the rigged
Trainer (training/loop/trainer.py), for a SequenceModel.

Each step takes one training image and other views of the same time (``batch_cameras``), moves
the canonical Gaussians to that time with the field (not during the static warm-up, which fits the
canonical Gaussians to every time at once), rasterizes them with ``rasterize()`` and descends
(1 - l) L1 + l D-SSIM + mask L1 + the planes' smoothness along time. Every ``match_every`` of
progress (up to ``match_until``) each Gaussian's velocity and spin are corrected by matching it to
the Gaussians of the neighbouring training times (training/fourd/motion.py): motions larger than
an object's width between two training times, which the photometric loss cannot find. At the end
it scores the held-out views (val) and held-out times (test), bakes the sequence
(training/fourd/bake.py) and writes a last checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from core.datasets.frames import Dataset
from training import __version__
from training.config import exp_decay, progress, sh_degree_at
from training.data.sampler import FrameSampler
from training.data.scene import SplitData, load_dataset, split_data
from training.errors import CheckpointError, DatasetError, Interrupted, UndertrainedError
from training.files.checkpoint import load_checkpoint, save_checkpoint
from training.fourd.config import FourDConfig, video_choice
from training.fourd.densify import VISIBLE_OPACITY, WorldDensity
from training.fourd.init import hull_points, initial_gaussians
from training.fourd.model import GAUSSIAN_NAMES, SequenceModel
from training.fourd.motion import matched_motion, spin_of
from training.loop.losses import mask_loss, photometric_loss, psnr
from training.loop.optim import build_adam, reset_state, set_lr
from training.render.renderer import Renderer, screen_space_grads
from training.runtime.device import resolve_backend, resolve_device
from training.runtime.protocol import EventWriter, ProgressBar, format_seconds
from training.runtime.signals import StopRequest

LOG = logging.getLogger("training")

CHECKPOINT_NAME = "checkpoint.pt"
SEQUENCE_NAME = "sequence.gavatar4d"
CHECKPOINT_KIND = "4d"


def one_timestep(dataset: Dataset, timestep: int) -> Dataset:
    """The dataset's training and held-out-view images of one timestep (no held-out times)."""
    frames = [f for f in dataset.frames if f.timestep == timestep and f.split in ("train", "val")]
    if not any(f.split == "train" for f in frames):
        raise DatasetError(f"{dataset.root}: timestep {timestep} has no training images")
    return dataclasses.replace(dataset, frames=frames)


class SequenceTrainer:
    def __init__(
        self,
        cfg: FourDConfig,
        events: EventWriter,
        stop: StopRequest | None = None,
        resume: bool = False,
        stop_after: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.events = events
        self.stop = stop or StopRequest()
        self.resume = resume
        self.stop_after = stop_after
        self.out = Path(cfg.out)
        self.iteration = 0
        self.train_time = 0.0
        self.match_slot = 0  # the last progress slot (of match_every) whose motion was matched
        self.history: list[dict[str, Any]] = []

    # ------------------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        self.out.mkdir(parents=True, exist_ok=True)
        checkpoint = None
        if self.resume:
            checkpoint = load_checkpoint(self.out / CHECKPOINT_NAME)
            self._check_resume(checkpoint)
        self.device = resolve_device(cfg.device)
        self.backend = resolve_backend(cfg.backend, self.device)
        torch.manual_seed(cfg.seed)
        self.dataset = load_dataset(
            cfg.data, None, cfg.extra.get("val_cameras"), cfg.extra.get("test_frames")
        )
        LOG.info("%s", self.dataset.summary())
        if any(f.time is None for f in self.dataset.frames):
            raise DatasetError(
                f"{cfg.data}: a 4D run needs a time per image (D-NeRF's transforms_*.json 'time'); "
                f"this {self.dataset.format} dataset has none",
                "train rig-tracked datasets with --rig flame or --rig smplx",
            )
        if cfg.only_timestep >= 0:
            self.dataset = one_timestep(self.dataset, cfg.only_timestep)
        self.background = tuple(float(c) for c in (self.dataset.background or (1.0, 1.0, 1.0)))
        self.renderer = Renderer(self.backend, self.background, self.device)
        self.train = split_data(
            self.dataset, "train", cfg.resolution_scale, self.device, self.background,
            cfg.cache_on_device, cfg.max_cache_gb,
        )  # fmt: skip
        if len(self.train) == 0:
            raise DatasetError(f"{cfg.data}: the dataset has no training frames")
        self.times = {f.timestep: float(f.time) for f in self.dataset.frames}
        self.num_frames = len(self.times)
        generator = torch.Generator().manual_seed(cfg.seed)
        sfm = None if self.dataset.points is None else torch.from_numpy(self.dataset.points).float()
        points, colours, box, carved = hull_points(self.train, cfg.init_gaussians, generator, self.times, sfm)
        self.extent = float((box[1] - box[0]).norm()) / 2.0
        width = cfg.time_width / max(1, self.num_frames - 1)
        gaussians = initial_gaussians(points, colours, cfg.sh_degree, carved, width)
        self.model = SequenceModel.build(cfg, gaussians, box, self.num_frames, generator).to(self.device)
        self.model.set_training_times([self.times[t] for t in self.train.by_timestep])
        self.optimizer = self._build_optimizer()
        self.density = WorldDensity(cfg, self.model.num_gaussians, self.extent, self.device, cfg.seed)
        self.sampler = FrameSampler(len(self.train), cfg.seed)
        self.held_out: dict[str, SplitData] = {}
        if checkpoint is not None:
            self._restore(checkpoint)

    def _build_optimizer(self) -> torch.optim.Adam:
        cfg = self.cfg
        params: dict[str, torch.nn.Parameter] = dict(self.model.params)
        lrs = {
            "means": cfg.lr_means * self.extent, "quats": cfg.lr_quats, "log_scales": cfg.lr_log_scales,
            "opacity": cfg.lr_opacity, "sh_dc": cfg.lr_sh_dc, "sh_rest": cfg.lr_sh_rest,
            "time_centre": cfg.lr_time_centre, "time_log_width": cfg.lr_time_width,
            "velocity": cfg.lr_velocity * self.extent, "spin": cfg.lr_spin,
        }  # fmt: skip
        field = self.model.field
        for i, plane in enumerate(field.plane_parameters()):
            params[f"plane_{i}"], lrs[f"plane_{i}"] = plane, cfg.lr_planes
        for i, weight in enumerate(field.head_parameters()):
            params[f"head_{i}"], lrs[f"head_{i}"] = weight, cfg.lr_heads
        if field.codes is not None:
            params["codes"], lrs["codes"] = field.codes, cfg.lr_codes
        return build_adam(params, lrs)

    def _check_resume(self, state: dict[str, Any]) -> None:
        if state.get("kind") != CHECKPOINT_KIND:
            raise CheckpointError(
                f"{self.out / CHECKPOINT_NAME} is not a 4D checkpoint", "start without --resume"
            )
        missing = [n for n in GAUSSIAN_NAMES if f"params.{n}" not in state.get("model", {})]
        if missing:
            raise CheckpointError(
                f"{self.out / CHECKPOINT_NAME} was made by an older 4D trainer (no {', '.join(missing)})",
                "start again without --resume",
            )
        free = {"iterations", "time_budget", "log_every", "preview_every", "checkpoint_every", "out", "data",
                "eval_every_seconds", "device", "backend", "cache_on_device", "max_cache_gb", "extra",
                "bake_fps", "bake_tolerance"}  # fmt: skip
        saved, mine = state["config"], self.cfg.to_dict()
        changed = [(k, saved[k], v) for k, v in mine.items() if k not in free and saved.get(k, v) != v]
        # A DyNeRF scene's frame choice (kept in extra) picks other images: another dataset.
        before, now = video_choice(saved.get("extra") or {}), video_choice(self.cfg.extra)
        changed += [(f"--{k.replace('_', '-')}", before[k], now[k]) for k in now if before[k] != now[k]]
        if changed:
            detail = ", ".join(f"{k}: {old!r} -> {new!r}" for k, old, new in changed[:5])
            raise CheckpointError(
                f"the checkpoint in {self.out} was made with other settings ({detail})",
                "resume with the same options, or start again without --resume",
            )

    # ------------------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "format": "gaussian-avatar-checkpoint",
            "version": 1,
            "kind": CHECKPOINT_KIND,
            "trainer_version": __version__,
            "config": self.cfg.to_dict(),
            "iteration": self.iteration,
            "train_time": self.train_time,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "density": self.density.state_dict(),
            "sampler": self.sampler.state_dict(),
            "match_slot": self.match_slot,
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        weights = state["model"]
        with torch.no_grad():
            for name in GAUSSIAN_NAMES:  # density control changed the count: take the saved tensors
                self.model.params[name] = torch.nn.Parameter(weights[f"params.{name}"].to(self.device))
        self.model.load_state_dict(weights)
        self.optimizer = self._build_optimizer()
        self.optimizer.load_state_dict(state["optimizer"])
        self.density.load_state_dict(state["density"])
        self.sampler.load_state_dict(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        self.iteration = int(state["iteration"])
        self.train_time = float(state["train_time"])
        self.match_slot = int(state.get("match_slot", 0))
        self.history = list(state.get("history", []))
        LOG.info(
            "resumed from iteration %d (%s of training)", self.iteration, format_seconds(self.train_time)
        )

    def write_checkpoint(self) -> Path:
        path = self.out / CHECKPOINT_NAME
        save_checkpoint(path, self._state())
        self.events.emit("checkpoint", path=str(path), iteration=self.iteration)
        return path

    # ------------------------------------------------------------------------------------------
    def progress(self) -> float:
        return progress(self.iteration, self.cfg.iterations, self.train_time, self.cfg.time_budget)

    def finished(self) -> bool:
        if self.iteration >= self.cfg.iterations:
            return True
        return self.cfg.time_budget > 0 and self.train_time >= self.cfg.time_budget

    def _batch(self) -> list[int]:
        first = self.sampler.next(1)[0]
        others = [i for i in self.train.by_timestep[self.train.timesteps[first]] if i != first]
        if self.cfg.batch_cameras <= 1 or not others:
            return [first]
        order = torch.randperm(len(others), generator=self.sampler.generator)[: self.cfg.batch_cameras - 1]
        return [first] + [others[int(j)] for j in order]

    def deforming(self, p: float | None = None) -> bool:
        """Whether the field moves the Gaussians (not in the static warm-up, never for one time)."""
        p = self.progress() if p is None else p
        return self.cfg.only_timestep < 0 and p >= self.cfg.static_warmup

    @torch.no_grad()
    def _peak_opacity(self) -> torch.Tensor:
        deform = self.deforming()
        # Every training time: a Gaussian the field shows at a single frame must survive.
        times = sorted({self.times[t] for t in self.train.by_timestep}) if deform else [0.0]
        return torch.stack([self.model.at_time(t, 0, deform).opacities for t in times]).amax(0)

    def step(self, want_psnr: bool = False) -> torch.Tensor:
        cfg = self.cfg
        p = self.progress()
        set_lr(self.optimizer, "means", exp_decay(cfg.lr_means, cfg.lr_means / 100, p) * self.extent)
        if cfg.lr_velocity > 0:
            velocity_lr = exp_decay(cfg.lr_velocity, cfg.lr_velocity / 10, p)
            set_lr(self.optimizer, "velocity", velocity_lr * self.extent)
        for i in range(len(self.model.field.plane_parameters())):
            set_lr(self.optimizer, f"plane_{i}", exp_decay(cfg.lr_planes, cfg.lr_planes / 10, p))
        batch = self._batch()
        timestep = self.train.timesteps[batch[0]]
        width, height = self.train.sizes[batch[0]]
        deform = self.deforming(p)
        world = self.model.at_time(
            self.times[timestep], sh_degree_at(p, cfg.sh_degree, cfg.sh_grow_every), deform
        )
        image, alpha, info = self.renderer.render(
            world, self.train.viewmats[batch], self.train.ks[batch], width, height
        )
        assert self.train.cache is not None
        gt, mask = self.train.cache.batch(batch)
        loss, parts = photometric_loss(image, gt, cfg.lambda_dssim)
        mask_l1 = mask_loss(alpha, mask) if mask is not None else loss.new_zeros(())
        smooth = self.model.field.smoothness() if deform else loss.new_zeros(())
        total = loss + cfg.lambda_mask * mask_l1 + cfg.lambda_smooth * smooth
        self.renderer.before_backward(info)
        total.backward()
        grads, counts = screen_space_grads(info, world, width, height)
        self.density.accumulate(grads, counts)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.iteration += 1
        report = self.density.step(self.model, self.optimizer, self.iteration, p, self._peak_opacity)
        if report is not None:
            LOG.debug("density control at %d: %s -> %d", self.iteration, report, self.model.num_gaussians)
            if report.get("visible", 1) == 0:
                self.check_visible()  # raises: nothing shows, so nothing can train
        self._match_motion(p)
        train_psnr = psnr(image.detach(), gt).mean() if want_psnr else total.new_full((), float("nan"))
        return torch.stack([total, parts["l1"], parts["dssim"], mask_l1, smooth, train_psnr]).detach()

    def _match_motion(self, p: float) -> None:
        """Velocity corrections from matches (training/fourd/motion.py) when due."""
        cfg = self.cfg
        if cfg.match_every <= 0 or not self.deforming(p) or p > cfg.match_until:
            return
        slot = int(p / cfg.match_every)
        if slot <= self.match_slot:
            return
        self.match_slot = slot
        times = sorted({self.times[t] for t in self.train.by_timestep})
        estimate = matched_motion(
            self.model,
            times,
            cfg.match_radius * self.extent,
            cfg.match_colour * self.extent,
            still_threshold=cfg.match_still,
        )
        params, rows = self.model.params, estimate.matched
        with torch.no_grad():
            params["velocity"] += estimate.velocity_change
            if cfg.match_spin:
                spin = spin_of(params["quats"], estimate.angular_velocity)
                params["spin"][rows] = spin[rows]
        for name in ("velocity", "spin"):
            reset_state(self.optimizer, params[name], rows)
        LOG.debug("motion matched at %d: mean velocity change %.3g", self.iteration,
                  float(estimate.velocity_change.norm(dim=1).mean()))  # fmt: skip

    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        self.events.emit(
            "start", mode="4d", iterations=cfg.iterations, time_budget=cfg.time_budget or None,
            resumed_from=self.iteration if self.resume else None, device=str(self.device),
            backend=self.backend,
            gaussians=self.model.num_gaussians, train_images=len(self.train),
            cameras=len(set(self.train.camera_ids)), timesteps=len(self.train.by_timestep),
            resolution=list(self.train.sizes[0]), out=str(self.out), config=cfg.to_dict(),
        )  # fmt: skip
        self.warm_up()  # before the clock starts: never counted as training
        bar = ProgressBar(cfg.iterations)
        window_start, window_iters, sums = time.perf_counter(), 0, None
        last_eval = self.train_time if self.history else -math.inf
        while not self.finished():
            if self.stop_after is not None and self.iteration >= self.stop_after:
                self.stop.request("SIGTERM")
            if self.stop.requested:
                raise Interrupted(self.stop.signal_name or "signal", str(self.write_checkpoint()))
            t0 = time.perf_counter()
            log_now = (self.iteration + 1) % cfg.log_every == 0 or self.iteration + 1 >= cfg.iterations
            parts = self.step(want_psnr=log_now)
            sums = parts if sums is None else sums + parts
            window_iters += 1
            if self.device.type == "cuda" and log_now:
                torch.cuda.synchronize(self.device)
            self.train_time += time.perf_counter() - t0
            if self.iteration % cfg.log_every == 0 or self.finished():
                now = time.perf_counter()
                rate = window_iters / max(1e-9, now - window_start)
                assert sums is not None
                means = (sums / window_iters).tolist()
                self._progress(means, float(parts[-1]), rate, bar)
                sums, window_iters, window_start = None, 0, now
            if cfg.preview_every and self.iteration % cfg.preview_every == 0:
                self.preview()
            if cfg.checkpoint_every and self.iteration % cfg.checkpoint_every == 0 and not self.finished():
                self.write_checkpoint()
            if cfg.eval_every_seconds > 0 and self.train_time - last_eval >= cfg.eval_every_seconds:
                last_eval = self.train_time
                self.evaluate_held_out()
                window_start = time.perf_counter()
        bar.close()
        return self.finish()

    def warm_up(self) -> None:
        """Build or load the rasterizer's kernels before the first step (training/render/warmup.py):
        gsplat compiles its CUDA code on first use, which would otherwise eat the time budget."""
        from training.render import warmup

        if warmup.may_compile(self.backend):
            self.events.emit("stage", stage="warm_up", text=warmup.COMPILING_TEXT)
            LOG.info("%s: the first run on this machine takes a minute or two", warmup.COMPILING_TEXT)
        seconds = warmup.warm_up(self.renderer, self.device, self.cfg.sh_degree)
        LOG.info("rasterizer (%s) ready in %.1f s; training starts now", self.backend, seconds)

    def _progress(self, means: list[float], train_psnr: float, rate: float, bar: ProgressBar) -> None:
        cfg = self.cfg
        remaining = (cfg.iterations - self.iteration) / max(rate, 1e-9)
        if cfg.time_budget > 0:
            remaining = min(remaining, max(0.0, cfg.time_budget - self.train_time))
        loss, l1, dssim, mask_l1, smooth = means[:5]
        self.events.emit(
            "progress", iteration=self.iteration, iterations=cfg.iterations, loss=loss,
            losses={"l1": l1, "dssim": dssim, "mask": mask_l1, "smooth": smooth}, psnr=train_psnr,
            gaussians=self.model.num_gaussians, its_per_s=rate, images_per_s=rate * cfg.batch_cameras,
            elapsed=self.train_time, eta=remaining, progress=self.progress(),
        )  # fmt: skip
        text = (
            f"psnr {train_psnr:.2f} | {self.model.num_gaussians} gs | {rate:.1f} it/s | "
            f"eta {format_seconds(remaining)}"
        )
        bar.update(self.iteration, text, force=True)
        if not bar.enabled:
            LOG.info("it %d/%d %s", self.iteration, cfg.iterations, text)

    # ------------------------------------------------------------------------------------------
    def _held_out(self, split: str) -> SplitData | None:
        if split not in self.held_out:
            self.held_out[split] = split_data(
                self.dataset, split, self.cfg.resolution_scale, self.device, self.background,
                self.cfg.cache_on_device, self.cfg.max_cache_gb, limit=self.cfg.eval_max_images,
            )  # fmt: skip
        data = self.held_out[split]
        return data if len(data) else None

    @torch.no_grad()
    def render_view(self, data: SplitData, i: int) -> torch.Tensor:
        w, h = data.sizes[i]
        world = self.model.at_time(self.times[data.timesteps[i]], self.cfg.sh_degree, self.deforming(1.0))
        image, _, _ = self.renderer.render(world, data.viewmats[i : i + 1], data.ks[i : i + 1], w, h)
        return image[0].clamp(0, 1)

    @torch.no_grad()
    def evaluate_split(self, split: str) -> dict[str, Any] | None:
        from training.metrics import score_images

        data = self._held_out(split)
        if data is None:
            return None
        assert data.cache is not None
        renders = [self.render_view(data, i) for i in range(len(data))]
        truths = [data.cache.batch([i])[0][0] for i in range(len(data))]
        return score_images(renders, truths)

    def evaluate_held_out(self) -> dict[str, Any]:
        record: dict[str, Any] = {"iteration": self.iteration, "elapsed": self.train_time}
        for split in ("val", "test"):
            scores = self.evaluate_split(split)
            if scores is not None:
                record[split] = {k: scores[k] for k in ("psnr", "ssim", "lpips") if k in scores}
        self.history.append(record)
        self.events.emit("eval", **record)
        return record

    @torch.no_grad()
    def preview(self) -> Path:
        from training.files.images import save_png, side_by_side

        data = self._held_out("test") or self.train
        assert data.cache is not None
        path = self.out / "previews" / f"preview_{self.iteration:07d}.png"
        save_png(path, side_by_side(data.cache.batch([0])[0][0], self.render_view(data, 0)))
        self.events.emit("preview", path=str(path), iteration=self.iteration)
        return path

    def check_visible(self) -> None:
        """Refuse to bake a sequence that shows nothing: every Gaussian below 1/255 opacity at
        every training time (a collapsed run, such as session 31's HyperNeRF-layout one)."""
        peak = self._peak_opacity()
        if not bool((peak > VISIBLE_OPACITY).any()):
            self.write_checkpoint()
            raise UndertrainedError(
                f"every Gaussian became transparent (highest opacity {float(peak.max()):.1e} at "
                f"iteration {self.iteration}): training collapsed and no sequence was written",
                "the checkpoint is kept for a bug report; train again, e.g. with --set opacity_reset_every=0",
            )

    def finish(self) -> dict[str, Any]:
        from training.fourd.bake import bake_sequence

        self.check_visible()
        metrics: dict[str, Any] = {"iterations": self.iteration, "train_time": self.train_time}
        final = self.evaluate_held_out()
        for split in ("val", "test"):
            if split in final:
                for key, value in final[split].items():
                    metrics[f"{split}_{key}"] = value
        metrics["gaussians"] = self.model.num_gaussians
        metrics["field_parameters"] = sum(p.numel() for p in self.model.field.parameters())
        sequence = bake_sequence(self, self.out / SEQUENCE_NAME, metrics)
        metrics.update(sequence.figures())
        checkpoint = self.write_checkpoint()
        self.events.emit("done", sequence=str(sequence.path), checkpoint=str(checkpoint), metrics=metrics,
                         history=self.history)  # fmt: skip
        return metrics
