"""`rlw`: random loss weighting (Lin, Ye, Xu, Shi & Zhang, "Reasonable Effectiveness of Random Weighting:
A Litmus Test for Multi-Task Learning", TMLR 2022).

Each step draws z ~ N(0, I_K) and uses ``λ = softmax(z)`` (the paper's default normal distribution), so
the weights sum to 1 as in the paper (not to K). z comes from a generator seeded by the run seed; K values
are drawn every step and the softmax is taken over the tasks present in the batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import Step, Weighting, register_weighting


@dataclass(frozen=True)
class RLWConfig:
    pass


@register_weighting("rlw")
class RandomLossWeighting(Weighting):
    Config = RLWConfig
    state_attrs = ("generator",)

    def step(self, losses: torch.Tensor, present: torch.Tensor, grads: torch.Tensor | None) -> Step:
        z = torch.randn(self.n_tasks, generator=self.generator).to(losses)  # [K]
        z = z.masked_fill(~present, float("-inf"))
        return Step(weights=torch.softmax(z, 0) if present.any() else torch.zeros_like(z))
