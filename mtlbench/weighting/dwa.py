"""`dwa`: dynamic weight average (Liu, Johns & Davison, "End-to-End Multi-Task Learning with Attention",
CVPR 2019, eq. 1).

``λ_k(t) = K exp(r_k(t−1)/T) / Σ_i exp(r_i(t−1)/T)`` with ``r_k(t−1) = L_k(t−1) / L_k(t−2)`` from the
mean training losses of the two previous epochs; λ_k = 1 in the first two epochs. T = 2 (paper).
A task with no loss recorded in epoch t−2 (never present) gets r_k = 1.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..model import Trial
from .base import Step, Weighting, in_range, register_weighting


@dataclass(frozen=True)
class DWAConfig:
    temperature: float = 2.0

    def __post_init__(self) -> None:
        in_range("temperature", self.temperature, 0.0, open_low=True)


@register_weighting("dwa")
class DynamicWeightAverage(Weighting):
    Config = DWAConfig
    state_attrs = ("history",)

    def setup(self) -> None:
        self.history: list[list[float]] = []  # mean losses of the last two epochs, oldest first

    def weights(self) -> torch.Tensor:
        """λ(t) [K] for the current epoch."""
        if len(self.history) < 2:
            return torch.ones(self.n_tasks, device=self.device)
        prev2, prev1 = (torch.tensor(h, dtype=torch.float64) for h in self.history)
        r = torch.where(prev2 > 0, prev1 / prev2.clamp_min(1e-30), torch.ones_like(prev1))  # [K]
        return (self.n_tasks * torch.softmax(r / self.cfg.temperature, 0)).float().to(self.device)

    def step(self, losses: torch.Tensor, present: torch.Tensor, grads: torch.Tensor | None) -> Step:
        return Step(weights=self.weights().to(losses.dtype))

    def end_epoch(self, epoch: int, mean_losses: Sequence[float]) -> None:
        self.history = [*self.history, [float(v) for v in mean_losses]][-2:]

    @classmethod
    def search_space(cls, trial: Trial) -> DWAConfig:
        return DWAConfig(temperature=trial.suggest_float("dwa_temperature", 0.5, 10.0, log=True))
