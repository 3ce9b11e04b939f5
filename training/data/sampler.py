"""Random frame order: a fresh permutation per epoch, from the sampler's own generator, so a
resumed run draws exactly the frames the uninterrupted run would have drawn.

With several training processes every rank keeps the same sampler and draws one frame per rank
each step (``next(world_size)``), taking its own: the frames of one step are all different, also
across an epoch boundary, and the sampler's state is the same on every rank (checkpoints hold no
per-rank state, so a run resumes with any number of processes)."""

from __future__ import annotations

from typing import Any

import torch


class FrameSampler:
    def __init__(self, num_items: int, seed: int) -> None:
        if num_items <= 0:
            raise ValueError("no frames to sample from")
        self.num_items = num_items
        self.generator = torch.Generator().manual_seed(seed + 104729)
        self.order = torch.randperm(num_items, generator=self.generator)
        self.position = 0

    def next(self, count: int = 1) -> list[int]:
        """``count`` frames, all different while count <= the number of frames."""
        out: list[int] = []
        while len(out) < count:
            if self.position >= self.num_items:
                self.order = self._new_epoch(out)
                self.position = 0
            out.append(int(self.order[self.position]))
            self.position += 1
        return out

    def _new_epoch(self, taken: list[int]) -> torch.Tensor:
        """A new permutation; frames already drawn in this call move to its end (stable), so one
        call never returns a frame twice while there are others left."""
        order = torch.randperm(self.num_items, generator=self.generator)
        if not taken or len(taken) >= self.num_items:
            return order
        used = torch.zeros(self.num_items, dtype=torch.bool)
        used[torch.tensor(taken)] = True
        late = used[order]
        return torch.cat([order[~late], order[late]])

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "order": self.order.clone(),
            "position": self.position,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.order = state["order"].clone()
        self.position = int(state["position"])
