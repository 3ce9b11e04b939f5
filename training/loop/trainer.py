"""The training loop: set-up from a config, steps, schedules, checkpoints, previews, export.

One ``Trainer`` owns everything of a run. ``run()`` emits the protocol events and returns the
final metrics; a stop request (SIGTERM/SIGINT) makes it write a checkpoint and raise
``Interrupted``. A run resumed from that checkpoint reproduces the uninterrupted run exactly on
the CPU: every random draw comes from generators that the checkpoint saves.

Under torchrun (training/runtime/distributed.py) every rank runs this same loop on its own views; one
all-reduce per step makes the gradients, the densification statistics, the clock and stop
requests the same on every rank. Only rank 0 writes events, previews, checkpoints and the avatar.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.jobs.pacing import LOG_INTERVAL_SECONDS, EtaEstimate, Throttle
from training import __version__
from training.config import TrainConfig, exp_decay, progress, sh_degree_at
from training.data.sampler import FrameSampler
from training.data.scene import SplitData, load_dataset, split_data
from training.errors import CheckpointError, Interrupted, UndertrainedError
from training.files.checkpoint import load_checkpoint, save_checkpoint
from training.loop.losses import psnr
from training.loop.optim import build_adam, set_lr
from training.loop.steps import StepFunctions
from training.loop.strategies import make_strategy
from training.model.face_gaussians import GaussianSet
from training.model.posing import RigPoser, WorldGaussians
from training.model.tracking import TrackedSequence
from training.render.renderer import Renderer, render_avatar, screen_space_grads
from training.rigs import identity_inputs, load_rig, rig_inputs
from training.runtime.device import peak_memory_gb, resolve_backend, resolve_device
from training.runtime.distributed import World
from training.runtime.protocol import EventWriter, ProgressBar, format_seconds
from training.runtime.signals import StopRequest

LOG = logging.getLogger("training")

CHECKPOINT_NAME = "checkpoint.pt"
AVATAR_NAME = "avatar.gavatar"
TRACKING_NAME = "tracking.npz"
MILESTONES_DB = (30.0, 33.0)
EVAL_AFTER_RESET = 200
PREVIEW_SIDE = 256  # pixels: previews are rendered at least this large (up to the dataset's size)
# What Trainer.step returns, in order (training PSNR only on logging steps).
PART_NAMES = (
    "loss", "l1", "dssim", "mask", "offset", "scale", "dynamics", "opacity_reg", "scale_reg", "psnr",
)  # fmt: skip


class Trainer:
    def __init__(
        self,
        cfg: TrainConfig,
        events: EventWriter,
        stop: StopRequest | None = None,
        resume: bool = False,
        stop_after: int | None = None,
        world: World | None = None,
    ) -> None:
        self.cfg = cfg
        self.world = world or World()
        self.events = events
        self.stop = stop or StopRequest()
        self.resume = resume
        self.stop_after = stop_after
        self.out = Path(cfg.out)
        self.iteration = 0  # completed steps
        self.train_time = 0.0  # seconds spent in steps (not in evaluation, previews, checkpoints)
        self.history: list[dict[str, Any]] = []  # held-out evaluations during training
        self.milestones: dict[str, float] = {}
        self.last_reset = -(10**9)  # iteration of the last opacity reset
        # Several ranks: train_time only moves at the step's all-reduce (rank 0's clock), so every
        # rank computes the same progress; rank 0's time since then waits in pending_time.
        self.pending_time = 0.0
        self.inflight_time = 0.0  # sent in the last all-reduce, not yet read back
        self.control: tuple[torch.Tensor, Any] | None = None
        self.stop_agreed = False  # a stop request every rank has seen (at the same step)
        self.fail_at: int | None = None  # tests: fail on this rank at this iteration
        # Mean loss of the first and (None until there is one) the latest later progress window
        self.first_loss: float | None = None
        self.last_loss: float | None = None
        self.eta = EtaEstimate()
        self.log_throttle = Throttle(LOG_INTERVAL_SECONDS)

    # ------------------------------------------------------------------------------------------
    # Set-up
    # ------------------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        self.out.mkdir(parents=True, exist_ok=True)
        checkpoint = None
        if self.resume:
            checkpoint = load_checkpoint(self.out / CHECKPOINT_NAME)
            self._check_resume_config(checkpoint["config"])
        self.device = resolve_device(cfg.device)
        self.backend = resolve_backend(cfg.backend, self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # static image shapes: let cuDNN pick (SSIM blur)
        torch.manual_seed(cfg.seed)
        self.rig_model = load_rig(cfg.model, cfg.rig)
        self.dataset = load_dataset(
            cfg.data, cfg.rig, cfg.extra.get("val_cameras"), cfg.extra.get("test_frames"), self.rig_model
        )
        LOG.info("%s", self.dataset.summary())
        self.background = tuple(float(c) for c in (self.dataset.background or (1.0, 1.0, 1.0)))
        self.identity = {k: np.asarray(v) for k, v in self.dataset.identity.items()}
        self.poser = RigPoser(self.rig_model, *identity_inputs(self.rig_model, self.identity), self.device)
        self.renderer = Renderer(self.backend, self.background, self.device, antialiased=cfg.antialiased)

        self.scale = self.training_scale()
        self.train = split_data(
            self.dataset, "train", self.scale, self.device, self.background,
            cfg.cache_on_device, cfg.max_cache_gb,
        )  # fmt: skip
        if len(self.train) == 0:
            from training.errors import DatasetError

            raise DatasetError(f"{cfg.data}: the dataset has no training frames")
        refine = [
            name
            for name, on in (
                ("expression", cfg.refine_expression),
                ("pose", cfg.refine_pose),
                ("transl", cfg.refine_translation),
            )
            if on
        ]
        train_steps = sorted(set(self.train.timesteps))
        self.tracking = TrackedSequence(
            train_steps,
            *rig_inputs(self.dataset, train_steps, self.rig_model),
            refine=refine,
            device=self.device,
            zero_mean=cfg.refine_zero_mean,
        )
        self.num_dyn_expression = min(cfg.dynamics_expressions, self.rig_model.num_expression)
        num_features = self.num_dyn_expression + self.poser.num_pose_features

        generator = torch.Generator().manual_seed(cfg.seed)
        init_count = cfg.init_gaussians or 3 * self.poser.num_faces
        rest = self.poser.rest_mesh().detach()
        self.gaussians = GaussianSet.on_surface(
            rest, self.poser.faces, min(init_count, cfg.max_gaussians), cfg.sh_degree, cfg.dynamics_rank,
            num_features, generator, device=self.device, shading=cfg.normal_shading,
        )  # fmt: skip
        self.optimizer = self._build_optimizer()
        self.functions = StepFunctions(
            self.poser, cfg, self.num_dyn_expression, graphs=self.device.type == "cuda" and cfg.cuda_graphs
        )
        self.strategy = make_strategy(cfg, self.gaussians.num_gaussians, self.device, cfg.seed)
        self.sampler = FrameSampler(len(self.train), cfg.seed)
        if checkpoint is not None:
            self._restore(checkpoint)
        if self.world.distributed:
            self._share_start()
        self.held_out: dict[str, SplitData] = {}
        self.held_out_tracking: TrackedSequence | None = None
        if cfg.filter_3d > 0:
            self._set_smoothing()

    def _set_smoothing(self) -> None:
        """The 3D filter's std: ``filter_3d`` of the finest training pixel at the subject (its
        mesh centre in the first training frame), the same for training and held-out renders."""
        from training.model.smoothing import finest_footprint

        with torch.no_grad():
            vertices, _ = self.poser.mesh(self.tracking.inputs(self.tracking.timesteps[0]))
            footprint = finest_footprint(self.train.viewmats, self.train.ks, vertices.reshape(-1, 3).mean(0))
        sigma = self.cfg.filter_3d * footprint
        self.renderer.smoothing = self.functions.smoothing = sigma
        LOG.info("3D filter: std %.3g (%.2f of a %.3g pixel at the subject)", sigma, self.cfg.filter_3d,
                 footprint)  # fmt: skip

    def _share_start(self) -> None:
        """Every rank starts from rank 0's parameters (they are built from the same seed, so this
        is a guard, not a fix) and checks that the rest of the state agrees."""
        with torch.no_grad():
            for p in self._trainable():
                self.world.broadcast(p.data)
        self.world.check_same(
            [self.gaussians.parent_face, self.strategy.grad_accum, self.sampler.order], "starting state"
        )
        if self.world.is_main:
            LOG.info(
                "training on %d processes (%s): %d views per step",
                self.world.size, self.world.backend, self.world.size * self.cfg.batch_cameras,
            )  # fmt: skip

    def _trainable(self) -> list[torch.nn.Parameter]:
        """The optimizer's parameters in a fixed order (the same on every rank)."""
        return [g["params"][0] for g in self.optimizer.param_groups]

    def _refine_lr(self, name: str) -> float:
        cfg = self.cfg
        return {
            "expression": cfg.lr_refine_expression,
            "pose": cfg.lr_refine_pose,
            "transl": cfg.lr_refine_translation,
        }[name]

    def _build_optimizer(self) -> torch.optim.Adam:
        cfg = self.cfg
        lrs = {
            "offset": cfg.lr_offset,
            "rotation": cfg.lr_rotation,
            "log_scale": cfg.lr_log_scale,
            "opacity": cfg.lr_opacity,
            "sh_dc": cfg.lr_sh_dc,
            "sh_rest": cfg.lr_sh_rest,
            "dyn_basis": cfg.lr_dyn_basis,
            "dyn_mix": cfg.lr_dyn_mix,
            "shading": cfg.lr_shading,
            **{f"refine_{name}": self._refine_lr(name) for name in self.tracking.deltas},
        }
        decay = {
            "dyn_basis": cfg.dynamics_weight_decay,
            "dyn_mix": cfg.dynamics_weight_decay,
            "shading": cfg.shading_weight_decay,
        }
        params = dict(self.gaussians.params)
        params.update({f"refine_{name}": p for name, p in self.tracking.deltas.items()})
        return build_adam(params, lrs, decay)

    def _check_resume_config(self, saved: dict[str, Any]) -> None:
        mine = self.cfg.to_dict()
        # What may differ on resume: the run's length, output cadence and where things are.
        free = {
            "iterations", "time_budget", "log_every", "preview_every", "checkpoint_every", "out", "data",
            "model", "eval_every_seconds", "device", "backend", "cache_on_device", "max_cache_gb", "extra",
            "min_iterations",
        }  # fmt: skip
        # A setting the checkpoint predates takes its current value (the message would name None).
        newer = [k for k in mine if k not in saved]
        if newer:
            LOG.warning("the checkpoint predates %s; resuming with the current values", ", ".join(newer))
        changed = [k for k in mine if k not in free and k in saved and saved[k] != mine[k]]
        if changed:
            detail = ", ".join(f"{k}: {saved[k]!r} -> {mine[k]!r}" for k in changed[:5])
            raise CheckpointError(
                f"the checkpoint in {self.out} was made with other settings ({detail})",
                "resume with the same options, or start again without --resume",
            )

    # ------------------------------------------------------------------------------------------
    # Checkpoints
    # ------------------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "format": "gaussian-avatar-checkpoint",
            "version": 1,
            "trainer_version": __version__,
            "config": self.cfg.to_dict(),
            "iteration": self.iteration,
            "train_time": self.elapsed,
            "num_faces": self.poser.num_faces,
            "gaussians": {k: v.cpu() for k, v in self.gaussians.export_state().items()},
            "optimizer": self.optimizer.state_dict(),
            "refine": {k: v.detach().cpu() for k, v in self.tracking.deltas.items()},
            "strategy": self.strategy.state_dict(),
            "sampler": self.sampler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
            "milestones": self.milestones,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        if state.get("num_faces") != self.poser.num_faces:
            raise CheckpointError(
                f"the checkpoint was trained on a mesh with {state.get('num_faces')} faces, "
                f"the rig model has {self.poser.num_faces}"
            )
        self.gaussians = GaussianSet.from_state(state["gaussians"], self.poser.num_faces, self.device)
        self.optimizer = self._build_optimizer()
        self.optimizer.load_state_dict(state["optimizer"])
        with torch.no_grad():
            for k, v in state["refine"].items():
                self.tracking.deltas[k].copy_(v)
        self.strategy.load_state_dict(state["strategy"])
        self.sampler.load_state_dict(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        self.iteration = int(state["iteration"])
        self.train_time = float(state["train_time"])
        self.history = list(state.get("history", []))
        self.milestones = dict(state.get("milestones", {}))
        LOG.info(
            "resumed from iteration %d (%s of training)", self.iteration, format_seconds(self.train_time)
        )

    def write_checkpoint(self) -> Path:
        """Rank 0 writes; the others only check that they hold the same model (a collective:
        every rank calls this at the same step)."""
        path = self.out / CHECKPOINT_NAME
        if self.world.distributed:
            self.world.check_same(
                [*self._trainable(), self.gaussians.parent_face, self.strategy.grad_accum], "models"
            )
        if self.world.is_main:
            save_checkpoint(path, self._state())
            self.events.emit("checkpoint", path=str(path), iteration=self.iteration)
        return path

    # ------------------------------------------------------------------------------------------
    # One step
    # ------------------------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Seconds of training so far (rank 0's clock when there are several ranks)."""
        return self.train_time + self.inflight_time + self.pending_time

    def add_time(self, seconds: float) -> None:
        if self.world.distributed:
            self.pending_time += seconds  # enters train_time at the next step's all-reduce
        else:
            self.train_time += seconds

    def progress(self) -> float:
        return progress(self.iteration, self.cfg.iterations, self.train_time, self.cfg.time_budget)

    def sh_degree(self, p: float | None = None) -> int:
        p = self.progress() if p is None else p
        return sh_degree_at(p, self.cfg.sh_degree, self.cfg.sh_grow_every)

    def _pick_batch(self) -> list[int]:
        """This rank's images of the step. Every rank draws every rank's picks in rank order
        from the shared sampler (so the sampler stays the same everywhere) and keeps its own."""
        firsts = self.sampler.next(self.world.size)
        batches = [self._batch_around(first) for first in firsts]
        return batches[self.world.rank]

    def _batch_around(self, first: int) -> list[int]:
        want = self.cfg.batch_cameras
        if want <= 1:
            return [first]
        same = [i for i in self.train.by_timestep[self.train.timesteps[first]] if i != first]
        size = self.train.sizes[first]
        same = [i for i in same if self.train.sizes[i] == size]
        if not same:
            return [first]
        order = torch.randperm(len(same), generator=self.sampler.generator)[: want - 1]
        return [first] + [same[int(j)] for j in order]

    def render_frame(self, inputs, viewmats, ks, width, height, sh_degree):
        return render_avatar(
            self.poser, self.gaussians, self.num_dyn_expression, self.renderer,
            inputs, viewmats, ks, width, height, sh_degree,
        )  # fmt: skip

    def step(self, density: bool = True, want_psnr: bool = False) -> torch.Tensor:
        """One optimisation step; returns the detached loss parts (PART_NAMES order)."""
        cfg = self.cfg
        p = self.progress()
        set_lr(self.optimizer, "offset", exp_decay(cfg.lr_offset, cfg.lr_offset_final, p))
        batch = self._pick_batch()
        timestep = self.train.timesteps[batch[0]]
        width, height = self.train.sizes[batch[0]]
        sh_degree = self.sh_degree(p)
        inputs = self.tracking.inputs(timestep)
        means, quats, scales, opacities, sh, reg_offset, reg_scale, reg_dyn, reg_opacity, reg_size = (
            self.functions.pose(self.gaussians, inputs, sh_degree, timestep)
        )
        world = WorldGaussians(means, quats, scales, opacities, sh, sh_degree, None)
        image, alpha, info = self.renderer.render(
            world, self.train.viewmats[batch], self.train.ks[batch], width, height
        )
        assert self.train.cache is not None
        gt, mask = self.train.cache.batch(batch)
        photometric, l1, dssim, mask_l1 = self.functions.loss(image, gt, alpha, mask)
        loss = (
            photometric
            + cfg.lambda_mask * mask_l1
            + cfg.lambda_offset * reg_offset
            + cfg.lambda_scale * reg_scale
            + cfg.lambda_dynamics * reg_dyn
        )
        if cfg.lambda_sh_rest > 0 and sh_degree > 0:
            # Only the degrees in use: view-dependent colour stays small unless the views need it.
            used = self.gaussians.params["sh_rest"][:, : (sh_degree + 1) ** 2 - 1]
            loss = loss + cfg.lambda_sh_rest * used.square().mean()
        # Off by default (0): left out of the graph then, so the default loss is unchanged.
        if cfg.lambda_opacity_reg > 0:
            loss = loss + cfg.lambda_opacity_reg * reg_opacity
        if cfg.lambda_scale_reg > 0:
            loss = loss + cfg.lambda_scale_reg * reg_size
        self.renderer.before_backward(info)
        loss.backward()
        grads, counts = screen_space_grads(info, world, width, height)
        train_psnr = psnr(image.detach(), gt).mean() if want_psnr else loss.new_full((), float("nan"))
        parts = torch.stack(
            [loss, l1, dssim, mask_l1, reg_offset, reg_scale, reg_dyn, reg_opacity, reg_size, train_psnr]
        ).detach()
        if self.world.distributed:
            grads, counts, parts = self._all_reduce_step(grads, counts, parts)
        self.strategy.accumulate(grads, counts)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.iteration += 1
        report = self.strategy.step(self.gaussians, self.optimizer, self.iteration, p) if density else None
        if report is not None and self.world.distributed:
            self._check_count()
        if report is not None and report["reset"]:
            self.last_reset = self.iteration
        if report is not None:
            LOG.debug(
                "density control at %d: %s -> %d Gaussians",
                self.iteration,
                report,
                self.gaussians.num_gaussians,
            )
        return parts

    def _all_reduce_step(
        self, grads: torch.Tensor, counts: torch.Tensor, parts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One all-reduce for the step (training/runtime/distributed.py): parameter gradients (averaged),
        densification statistics (summed), loss parts (averaged), and two control numbers (rank
        0's clock, any rank's stop request). A parameter without a gradient on this rank sends
        zeros and gets the others' mean: the update is the same everywhere."""
        self._apply_control()  # the previous step's control numbers (no wait for this one's)
        params = self._trainable()
        device = grads.device
        pieces = [p.grad.reshape(-1) if p.grad is not None else p.new_zeros(p.numel()) for p in params]
        clock = self.pending_time if self.world.is_main else 0.0
        control = torch.tensor([clock, 1.0 if self.stop.requested else 0.0], device=device)
        self.inflight_time, self.pending_time = clock, 0.0
        flat = torch.cat([*pieces, grads, counts.to(grads.dtype), parts.to(device), control])
        self.world.all_reduce_sum(flat)
        at = 0
        inv = 1.0 / self.world.size
        for p, piece in zip(params, pieces, strict=True):
            n = piece.numel()
            p.grad = flat[at : at + n].view_as(p).mul_(inv)
            at += n
        num = grads.numel()
        grads, counts = flat[at : at + num], flat[at + num : at + 2 * num]
        at += 2 * num
        parts = flat[at : at + parts.numel()] * inv
        at += parts.numel()
        # Read back at the next step, so the host does not wait for this step's GPU work.
        host = torch.empty(2, pin_memory=device.type == "cuda")
        host.copy_(flat[at:], non_blocking=True)
        done = torch.cuda.Event() if device.type == "cuda" else None
        if done is not None:
            done.record()
        self.control = (host, done)
        return grads, counts, parts

    def _apply_control(self) -> None:
        """Apply the last all-reduce's control numbers (on every rank at the same step)."""
        if self.control is None:
            return
        host, done = self.control
        if done is not None:
            done.synchronize()
        clock, stop = host.tolist()
        self.train_time += clock
        self.inflight_time = 0.0
        if stop > 0:
            self.stop_agreed = True
        self.control = None

    def _check_count(self) -> None:
        """After density control: every rank must hold the same number of Gaussians (else the
        next all-reduce would mix buffers of different lengths)."""
        n = float(self.gaussians.num_gaussians)
        both = torch.tensor([n, -n], dtype=torch.float64, device=self.device)
        self.world.all_reduce_max(both)
        if float(both[0]) != n or float(-both[1]) != n:
            from training.errors import DistributedError

            raise DistributedError(
                f"the training processes disagree after density control ({int(n)} Gaussians on rank "
                f"{self.world.rank}, {int(-both[1])}..{int(both[0])} over all); this is a bug",
                "run with one GPU and report it",
            )

    # ------------------------------------------------------------------------------------------
    # The loop
    # ------------------------------------------------------------------------------------------
    def finished(self) -> bool:
        if self.iteration >= self.cfg.iterations:
            return True
        return self.cfg.time_budget > 0 and self.train_time >= self.cfg.time_budget

    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        self.events.emit(
            "start",
            iterations=cfg.iterations,
            time_budget=cfg.time_budget or None,
            resumed_from=self.iteration if self.resume else None,
            device=str(self.device),
            backend=self.backend,
            gaussians=self.gaussians.num_gaussians,
            train_images=len(self.train),
            cameras=len(set(self.train.camera_ids)),
            timesteps=len(self.tracking.timesteps),
            resolution=list(self.train.sizes[0]),
            dynamics_rank=cfg.dynamics_rank,
            processes=self.world.size,
            out=str(self.out),
            config=cfg.to_dict(),
        )
        if self.world.is_main:
            self._note_lpips()
        self.warm_up()  # before the clock starts: never counted as training
        bar = ProgressBar(cfg.iterations)
        bar.enabled = bar.enabled and self.world.is_main
        window_start = time.perf_counter()
        window_iters = 0
        sums: torch.Tensor | None = None
        last_eval = self.train_time if self.history else -math.inf
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        while not self.finished():
            if self.stop_after is not None and self.iteration >= self.stop_after:
                self.stop.request("SIGTERM")
                self.stop_agreed = True  # every rank reaches the same iteration
            if self.stop_agreed if self.world.distributed else self.stop.requested:
                path = self.write_checkpoint()
                raise Interrupted(self.stop.signal_name or "signal", str(path))
            if self.fail_at is not None and self.iteration >= self.fail_at:
                from training.errors import DatasetError

                raise DatasetError(f"test failure on rank {self.world.rank} at iteration {self.iteration}")
            t0 = time.perf_counter()
            log_now = (self.iteration + 1) % cfg.log_every == 0 or self.iteration + 1 >= cfg.iterations
            parts = self.step(want_psnr=log_now)
            sums = parts if sums is None else sums + parts
            window_iters += 1
            if self.device.type == "cuda" and (
                self.iteration % cfg.log_every == 0 or (cfg.time_budget > 0 and self.iteration % 10 == 0)
            ):
                torch.cuda.synchronize(self.device)
            self.add_time(time.perf_counter() - t0)

            if self.iteration % cfg.log_every == 0 or self.finished():
                now = time.perf_counter()
                rate = window_iters / max(1e-9, now - window_start)
                self.eta.add_window(now - window_start, window_iters)
                assert sums is not None
                means = (sums / window_iters).tolist()
                losses = dict(zip(PART_NAMES, means, strict=True))
                losses["psnr"] = float(parts[-1])  # the window's last batch
                self._note_loss(losses["loss"])
                self._progress_event(losses, rate, bar)
                sums, window_iters, window_start = None, 0, now
            if cfg.preview_every and self.iteration % cfg.preview_every == 0 and self.world.is_main:
                self.preview()
                window_start = time.perf_counter()  # preview time is not training speed
            if cfg.checkpoint_every and self.iteration % cfg.checkpoint_every == 0 and not self.finished():
                self.write_checkpoint()
            # Held-out evaluation on its cadence, but not within EVAL_AFTER_RESET iterations of an
            # opacity reset (the avatar is semi-transparent for a moment then, by design).
            recovering = self.iteration - self.last_reset < EVAL_AFTER_RESET
            if (
                cfg.eval_every_seconds > 0
                and self.train_time - last_eval >= cfg.eval_every_seconds
                and not recovering
            ):
                last_eval = self.train_time
                if self.world.is_main:  # the others wait in the next step's all-reduce
                    self.evaluate_held_out()
                window_start = time.perf_counter()  # evaluation time is not training speed
        bar.close()
        return self.finish()

    def warm_up(self) -> None:
        """Build or load the rasterizer's kernels before the first step (training/render/warmup.py):
        gsplat compiles its CUDA code on first use, a minute that used to eat the time budget."""
        from training.render import warmup

        if warmup.may_compile(self.backend) and self.world.is_main:
            self.events.emit("stage", stage="warm_up", text=warmup.COMPILING_TEXT)
            LOG.info("%s: the first run on this machine takes a minute or two", warmup.COMPILING_TEXT)
        seconds = warmup.warm_up(self.renderer, self.device, self.cfg.sh_degree)
        LOG.info("rasterizer (%s) ready in %.1f s; training starts now", self.backend, seconds)

    def _note_loss(self, loss: float) -> None:
        if not math.isfinite(loss):
            return
        if self.first_loss is None:
            self.first_loss = loss
        else:  # only a later window says whether it learnt
            self.last_loss = loss

    def check_trained(self) -> None:
        """Refuse to call a run an avatar when it did not train: fewer than ``min_iterations``
        steps (a time budget that ran out, e.g. on a slow device), or a loss that did not go down.
        Raised on every rank alike (the figures are the same everywhere)."""
        cfg = self.cfg
        need = min(cfg.min_iterations, cfg.iterations)
        hint = "the checkpoint is kept: --resume with a longer --time-budget continues from it"
        if self.iteration < need:
            raise UndertrainedError(
                f"the run trained only {self.iteration} iteration{'s' if self.iteration != 1 else ''} in "
                f"{format_seconds(self.elapsed)} of training (an avatar needs at least {need}); "
                "no avatar was written",
                hint,
            )
        first, last = self.first_loss, self.last_loss
        if not self.resume and first is not None and last is not None and last >= first:
            raise UndertrainedError(
                f"the training loss did not go down ({first:.4f} at the start, {last:.4f} at the end); "
                "no avatar was written",
                "check the dataset's masks and tracking, or train longer",
            )

    def _progress_event(self, losses: dict[str, float], rate: float, bar: ProgressBar) -> None:
        cfg = self.cfg
        remaining = self.eta.remaining(self.iteration, cfg.iterations, self.elapsed, cfg.time_budget)
        train_psnr = losses.pop("psnr", float("nan"))
        self.events.emit(
            "progress",
            iteration=self.iteration,
            iterations=cfg.iterations,
            loss=losses.pop("loss", float("nan")),
            losses=losses,
            psnr=train_psnr,
            gaussians=self.gaussians.num_gaussians,
            sh_degree=self.sh_degree(),
            its_per_s=rate,
            images_per_s=rate * self.world.size * cfg.batch_cameras,
            elapsed=self.elapsed,
            eta=remaining,
            progress=self.progress(),
        )
        bar.update(
            self.iteration,
            f"psnr {train_psnr:.2f} | {self.gaussians.num_gaussians} gs | {rate:.1f} it/s | "
            f"eta {format_seconds(remaining)}",
            force=True,
        )
        # The human log: one line every few seconds (and the last), whatever log_every is.
        if not bar.enabled and self.log_throttle.ready(force=self.finished()):
            LOG.info(
                "it %d/%d loss %.4f train psnr %.2f gaussians %d %.1f it/s eta %s",
                self.iteration, cfg.iterations, losses.get("l1", float("nan")), train_psnr,
                self.gaussians.num_gaussians, rate, format_seconds(remaining),
            )  # fmt: skip

    def _note_lpips(self) -> None:
        from training.metrics import lpips_available

        ok, why = lpips_available()
        if not ok:
            LOG.info("LPIPS is left out of the metrics: %s", why)

    # ------------------------------------------------------------------------------------------
    # Previews, evaluation, export
    # ------------------------------------------------------------------------------------------
    def _held_out(self, split: str, scale: float | None = None, limit: int | None = None) -> SplitData | None:
        """The split's frames (at most ``limit``, default eval_max_images) at ``scale`` (default
        the training scale), loaded once."""
        scale = self.scale if scale is None else scale
        limit = self.cfg.eval_max_images if limit is None else limit
        key = (
            split
            if (scale, limit) == (self.scale, self.cfg.eval_max_images)
            else f"{split}@{scale:g}/{limit}"
        )
        if key not in self.held_out:
            self.held_out[key] = split_data(
                self.dataset, split, scale, self.device, self.background,
                self.cfg.cache_on_device, self.cfg.max_cache_gb, limit=limit,
            )  # fmt: skip
        data = self.held_out[key]
        return data if len(data) else None

    def _inputs_for(self, timestep: int):
        if timestep in self.tracking:
            return self.tracking.inputs(timestep)
        if self.held_out_tracking is None or timestep not in self.held_out_tracking:
            steps = sorted({t for d in self.held_out.values() for t in d.timesteps} | {timestep})
            self.held_out_tracking = TrackedSequence(
                steps, *rig_inputs(self.dataset, steps, self.rig_model), device=self.device
            )
        return self.held_out_tracking.inputs(timestep, refined=False)

    @torch.no_grad()
    def evaluate_split(self, split: str, scale: float | None = None) -> dict[str, Any] | None:
        """Scores of the split's held-out images at ``scale`` (default: the training scale), with
        ``resolution`` [w, h] of the first image."""
        from training.metrics import score_images

        data = self._held_out(split, scale)
        if data is None:
            return None
        assert data.cache is not None
        renders, truths = [], []
        for i in range(len(data)):
            w, h = data.sizes[i]
            inputs = self._inputs_for(data.timesteps[i])
            _, image, _, _ = self.render_frame(
                inputs, data.viewmats[i : i + 1], data.ks[i : i + 1], w, h, self.cfg.sh_degree
            )
            gt, _ = data.cache.batch([i])
            renders.append(image[0].clamp(0, 1))
            truths.append(gt[0])
        scores = score_images(renders, truths)
        scores["resolution"] = list(data.sizes[0])
        return scores

    def evaluate_held_out(self) -> dict[str, Any]:
        record: dict[str, Any] = {"iteration": self.iteration, "elapsed": self.elapsed}
        for split in ("val", "test"):
            scores = self.evaluate_split(split)
            if scores is None:
                continue
            record[split] = {k: scores[k] for k in ("psnr", "ssim", "resolution") if k in scores}
            if split == "val":
                for db in MILESTONES_DB:
                    key = f"val_psnr_{int(db)}"
                    if scores["psnr"] >= db and key not in self.milestones:
                        self.milestones[key] = self.elapsed
        self.history.append(record)
        self.events.emit("eval", **record, milestones=self.milestones)
        return record

    def dataset_size(self) -> tuple[int, int]:
        """(width, height) of the first training image at the dataset's own resolution."""
        camera = self.dataset.split("train")[0].camera
        return int(camera.width), int(camera.height)

    def training_scale(self) -> float:
        """``resolution_scale``, lowered so the longest image side is at most ``max_image_side``
        (the CPU preset trains at 64 px whatever the dataset's size)."""
        scale = self.cfg.resolution_scale
        if self.cfg.max_image_side > 0:
            scale = min(scale, self.cfg.max_image_side / max(self.dataset_size()))
        return scale

    def preview_scale(self) -> float:
        """The previews' image scale: at least PREVIEW_SIDE pixels on the longest side (at most the
        dataset's resolution), never below the training scale."""
        longest = max(self.dataset_size())
        return max(self.scale, min(1.0, PREVIEW_SIDE / max(1, longest)))

    @torch.no_grad()
    def preview(self) -> Path | None:
        from training.files.images import enlarge, save_png, side_by_side

        scale = self.preview_scale()
        data = self._held_out("val", scale, limit=1) or self._held_out("train", scale, limit=1)
        assert data is not None and data.cache is not None
        w, h = data.sizes[0]
        _, image, _, _ = self.render_frame(
            self._inputs_for(data.timesteps[0]), data.viewmats[:1], data.ks[:1], w, h, self.sh_degree()
        )
        gt, _ = data.cache.batch([0])
        path = self.out / "previews" / f"preview_{self.iteration:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        # A dataset smaller than PREVIEW_SIDE is shown larger with whole pixels (no made-up detail).
        save_png(path, enlarge(side_by_side(gt[0], image[0].clamp(0, 1)), PREVIEW_SIDE / max(w, h)))
        self.events.emit("preview", path=str(path), iteration=self.iteration)
        return path

    def final_metrics(self) -> dict[str, Any]:
        """The run's figures. Held-out PSNR/SSIM are scored at the dataset's resolution (what the
        avatar is for); at another training scale the training-scale figures are kept beside them
        as ``*_at_training_scale`` (they flatter a low-resolution run: 28 dB at 32 px was 18 dB at
        128 px)."""
        metrics: dict[str, Any] = {"iterations": self.iteration, "train_time": self.elapsed}
        final = self.evaluate_held_out() if (self.dataset.split("val") or self.dataset.split("test")) else {}
        full_scale = self.scale == 1.0
        if final and not full_scale:
            self.events.emit(
                "stage", stage="evaluate", text="scoring the held-out views at the dataset resolution"
            )
        for split in ("val", "test"):
            if split not in final:
                continue
            scores = final[split] if full_scale else self.evaluate_split(split, 1.0)
            assert scores is not None
            metrics[f"{split}_psnr"] = scores["psnr"]
            metrics[f"{split}_ssim"] = scores["ssim"]
            metrics["eval_resolution"] = list(self.dataset_size())
            if not full_scale:
                metrics[f"{split}_psnr_at_training_scale"] = final[split]["psnr"]
        metrics["training_resolution"] = list(self.train.sizes[0])
        metrics["gaussians"] = self.gaussians.num_gaussians
        peak = peak_memory_gb(self.device)
        if peak is not None:
            metrics["peak_gpu_memory_gb"] = peak
        metrics.update(self.milestones)
        return metrics

    def compact_to_size(self, max_mb: float, steps: int) -> dict[str, int] | None:
        """Compaction (training/loop/compact.py) when the avatar file would be over ``max_mb``."""
        from training.loop.compact import compact, gaussians_for_size

        fixed = 8192 + sum(4 * np.asarray(v).size for v in self.identity.values())
        rank = self.cfg.dynamics_rank if self.gaussians.has_dynamics else 0
        shading = "shading" in self.gaussians.params
        limit = gaussians_for_size(max_mb * 1e6, self.gaussians.max_sh_degree, rank, fixed, shading)
        if self.gaussians.num_gaussians <= limit:
            return None
        return compact(self, limit, steps)

    def export(self, path: Path, metrics: dict[str, Any]) -> Path:
        from training.files.export import write_avatar

        return write_avatar(path, self, metrics)

    def finish(self) -> dict[str, Any]:
        from training.files.export import write_tracking

        main = self.world.is_main  # evaluates and writes; compaction is trained on every rank
        self._apply_control()
        try:
            self.check_trained()
        except UndertrainedError:
            self.write_checkpoint()  # --resume with more time continues from here
            raise
        metrics = self.final_metrics() if main else {}
        if self.cfg.export_max_mb > 0:
            report = self.compact_to_size(self.cfg.export_max_mb, self.cfg.compact_steps)
            if report is not None and main:
                before = {k: metrics[k] for k in ("val_psnr", "test_psnr", "gaussians") if k in metrics}
                metrics = self.final_metrics()
                metrics["before_compaction"] = before
                metrics["compaction"] = report
        if main:
            avatar = self.export(self.out / AVATAR_NAME, metrics)
            tracking = write_tracking(self.out / TRACKING_NAME, self.tracking)
        checkpoint = self.write_checkpoint()
        if not main:
            return metrics
        self.events.emit(
            "done",
            avatar=str(avatar),
            tracking=str(tracking),
            checkpoint=str(checkpoint),
            metrics=metrics,
            history=self.history,
        )
        return metrics
