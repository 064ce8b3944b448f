"""`uw`: uncertainty weighting (Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to Weigh
Losses", CVPR 2018).

With a learnable s_k = log σ_k² per task: ``L = Σ_k ½ exp(−s_k) L_k + ½ s_k`` (eq. 5/7, written in s for
stability as the paper suggests). λ_k = ½ exp(−s_k); s is optimised with the model (``parameters()``).
Deviation: the regression form is used for every task; the paper's classification form (eq. 10,
``exp(−s_k) L_k + ½ s_k``) differs by a factor 2 on L_k, i.e. a shift of s_k by log 2 at the optimum.
A task absent from the batch contributes neither term (its s_k gets no gradient).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model import Trial
from .base import Step, Weighting, in_range, register_weighting


@dataclass(frozen=True)
class UWConfig:
    init_log_var: float = 0.0  # s_k at the start (σ_k = 1)

    def __post_init__(self) -> None:
        in_range("init_log_var", self.init_log_var, -10.0, 10.0)


@register_weighting("uw")
class UncertaintyWeighting(Weighting):
    Config = UWConfig

    def setup(self) -> None:
        self.log_var = torch.full((self.n_tasks,), float(self.cfg.init_log_var), device=self.device, requires_grad=True)  # [K]

    def parameters(self) -> list[torch.Tensor]:
        return [self.log_var]

    def step(self, losses: torch.Tensor, present: torch.Tensor, grads: torch.Tensor | None) -> Step:
        s = self.log_var.to(losses.dtype)
        weights = 0.5 * torch.exp(-s) * present  # [K]
        return Step(weights=weights, penalty=0.5 * (s * present).sum())

    @classmethod
    def search_space(cls, trial: Trial) -> UWConfig:
        return UWConfig(init_log_var=trial.suggest_float("uw_init_log_var", -2.0, 2.0))
