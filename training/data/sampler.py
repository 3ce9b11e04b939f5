"""Random frame order: a fresh permutation per epoch, from the sampler's own generator, so a
resumed run draws exactly the frames the uninterrupted run would have drawn."""

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
        out: list[int] = []
        while len(out) < count:
            if self.position >= self.num_items:
                self.order = torch.randperm(self.num_items, generator=self.generator)
                self.position = 0
            out.append(int(self.order[self.position]))
            self.position += 1
        return out

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
