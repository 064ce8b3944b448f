"""`static`: the fixed schedule ω_k(t) = ω_k,0 · γ_k^t of TrainConfig (docs/protocol.md §2), the default.

The step is ``Σ_k ω_k(t) L_k + aux``, exactly the trainer's loss without a strategy.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import Step, Weighting, register_weighting


@dataclass(frozen=True)
class StaticConfig:
    pass


@register_weighting("static")
class Static(Weighting):
    Config = StaticConfig
    stackable = True

    def step(self, losses: torch.Tensor, present: torch.Tensor, grads: torch.Tensor | None) -> Step:
        return Step(weights=torch.ones_like(losses))
