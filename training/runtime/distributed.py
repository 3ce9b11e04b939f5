"""Training on several processes: ``torchrun --nproc_per_node N -m training fit ...``.

Every rank holds the whole model. A step on rank r renders its own views (the frame sampler hands
out N different frames per step, the same stream on every rank); after the backward pass one
all-reduce sums a flat buffer that holds

- every trainable parameter's gradient (then divided by N: the gradient of the mean loss over the
  N ranks' views),
- the densification statistics of the step (screen-space gradient norms and visibility counts per
  Gaussian, summed: exactly what one process would accumulate over the same views),
- the step's loss parts (averaged for the progress log),
- a few control numbers: rank 0's training time since the last step, whether any rank was asked
  to stop, which parameters got a gradient at all.

So every rank applies the same gradients with the same Adam, accumulates the same statistics and
reads the same clock, and every decision (densify, split samples, prune, opacity reset, SH degree,
learning rates, end of the run, stop) comes out the same on every rank without a broadcast.
DistributedDataParallel is not used: it registers the parameters once and cannot follow
densification, which replaces the parameter tensors with longer ones every few hundred steps.

A single process (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) never touches torch.distributed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import torch

from training.errors import DistributedError, NoCudaError
from training.runtime.launch import launched_ranks

LOG = logging.getLogger("training")

# How long a rank waits in a collective for the others (rank 0 evaluates held-out views and writes
# files while the others wait). torchrun ends the others at once when one rank dies; this bounds a
# wait when the ranks were started some other way.
TIMEOUT_S = float(os.environ.get("GAVATAR_DIST_TIMEOUT_S", "1800"))


@dataclass
class World:
    """The ranks of one training. The default is a single process: every method is a no-op."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # --- collectives ---------------------------------------------------------------------------
    def _call(self, what: str, fn, *args, **kwargs):
        import torch.distributed as dist

        try:
            return fn(*args, **kwargs)
        except (RuntimeError, dist.DistError) as exc:
            raise DistributedError(
                f"rank {self.rank}: {what} across the {self.size} training processes failed "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
                "another process failed first (its error comes before this one) or was killed",
            ) from None

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sums ``tensor`` over the ranks, in place; every rank gets the same bits."""
        if self.distributed:
            import torch.distributed as dist

            self._call("summing gradients", dist.all_reduce, tensor, op=dist.ReduceOp.SUM)
        return tensor

    def all_reduce_max(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.distributed:
            import torch.distributed as dist

            self._call("comparing state", dist.all_reduce, tensor, op=dist.ReduceOp.MAX)
        return tensor

    def broadcast(self, tensor: torch.Tensor, source: int = 0) -> torch.Tensor:
        if self.distributed:
            import torch.distributed as dist

            self._call("broadcasting the model", dist.broadcast, tensor, src=source)
        return tensor

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            self._call("waiting for the other processes", dist.barrier)

    def check_same(self, tensors: Sequence[torch.Tensor], what: str) -> None:
        """Raises DistributedError unless every rank holds the same shapes and values (compared
        through float64 checksums: the plain sum and a position-weighted sum of each tensor)."""
        if not self.distributed:
            return
        device = tensors[0].device if tensors else torch.device("cpu")
        sums = []
        for t in tensors:
            flat = t.detach().reshape(-1).double()
            weights = torch.arange(1, flat.numel() + 1, device=flat.device, dtype=torch.float64)
            weights = torch.remainder(weights * 0.6180339887, 1.0) + 0.5
            sums += [float(flat.numel()), float(flat.sum()), float((flat * weights).sum())]
        mine = torch.tensor(sums, dtype=torch.float64, device=device)
        both = torch.stack([mine, -mine])
        self.all_reduce_max(both)
        if not torch.equal(both[0], -both[1]):
            raise DistributedError(
                f"the training processes hold different {what} (rank {self.rank}); this is a bug",
                "run with one GPU and report it",
            )

    def close(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def init_world(device: str) -> World:
    """The World of this process: joins the process group when launched with WORLD_SIZE > 1
    (nccl on CUDA, gloo on the CPU) and picks this rank's GPU (cuda:LOCAL_RANK)."""
    rank, size, local = launched_ranks()
    if size == 1:
        return World()
    import torch.distributed as dist

    if not dist.is_available():
        raise DistributedError("this torch has no torch.distributed: train with one process")
    backend = "gloo"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise NoCudaError(
                "--device cuda with several processes, but this torch sees no CUDA device",
                "use --device cpu (gloo) or one process",
            )
        count = torch.cuda.device_count()
        if local >= count:
            raise DistributedError(
                f"rank {rank} wants GPU {local} (LOCAL_RANK), but only {count} GPU(s) are visible",
                f"start at most {count} processes per machine (--nproc_per_node)",
            )
        torch.cuda.set_device(local)
        backend = "nccl"
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(k)]
    if missing:
        raise DistributedError(
            f"WORLD_SIZE={size} but {' and '.join(missing)} not set",
            "start the trainer with torchrun (python -m torch.distributed.run)",
        )
    try:
        dist.init_process_group(
            backend=backend, rank=rank, world_size=size, timeout=timedelta(seconds=TIMEOUT_S)
        )
    except Exception as exc:
        raise DistributedError(
            f"rank {rank} could not join the other {size - 1} training process(es): "
            f"{type(exc).__name__}: {exc}"
        ) from None
    LOG.info("rank %d of %d (local %d), %s", rank, size, local, backend)
    return World(rank, size, local, backend)
