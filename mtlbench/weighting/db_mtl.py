"""`db_mtl`: dual-balancing multi-task learning (Lin, Ye, Xu, Shi & Zhang, "Dual-Balancing for Multi-Task
Learning", 2023, Algorithm 1).

Loss-scale balancing: task k contributes log(L_k + ε). Gradient-magnitude balancing: ĝ_k, an exponential
moving average of ∇ log(L_k + ε) over the shared elements (ĝ_k ← β_t ĝ_k + (1 − β_t) g_k, ĝ_k = 0 at the
start, β_t = β / t^σ), and the shared elements get ``Σ_k (max_i ‖ĝ_i‖ / ‖ĝ_k‖) ĝ_k``. Task-specific elements
get ∇ log(L_k + ε) (λ_k = 1/(L_k + ε)). β = 0.9, σ = 0 (the authors' LibMTL defaults), ε = 1e-8.
Only present tasks update their ĝ_k and enter the sum.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model import Trial
from .base import Step, Weighting, expand, in_range, register_weighting

EPS = 1e-8


@dataclass(frozen=True)
class DBMTLConfig:
    beta: float = 0.9
    beta_sigma: float = 0.0

    def __post_init__(self) -> None:
        in_range("beta", self.beta, 0.0, 1.0)
        in_range("beta_sigma", self.beta_sigma, 0.0)


@register_weighting("db_mtl")
class DBMTL(Weighting):
    Config = DBMTLConfig
    gradient_based = True
    reached_only = False  # ĝ averages over every shared element, across steps
    state_attrs = ("buffer", "t")

    def setup(self) -> None:
        self.buffer: torch.Tensor | None = None  # ĝ [K, P], created at the first step
        self.t = 0

    def step(self, losses: torch.Tensor, present: torch.Tensor, grads: torch.Tensor | None) -> Step:
        self.t += 1
        if self.buffer is None:
            self.buffer = grads.new_zeros(self.n_tasks, grads.shape[1])
        inv = 1.0 / (losses.detach()[present].float() + EPS)  # [K']
        g_log = grads * inv[:, None]  # ∇ log(L_k + ε) [K', P]
        beta = self.cfg.beta / self.t**self.cfg.beta_sigma
        self.buffer[present] = g_log + beta * (self.buffer[present] - g_log)
        ema = self.buffer[present]  # [K', P]
        norms = ema.norm(dim=1)  # [K']
        shared = ((norms.max() / (norms + EPS))[:, None] * ema).sum(0)  # [P]
        return Step(weights=expand(inv.to(losses), present), shared_grad=shared)

    @classmethod
    def search_space(cls, trial: Trial) -> DBMTLConfig:
        return DBMTLConfig(beta=trial.suggest_float("db_mtl_beta", 0.5, 0.99))
