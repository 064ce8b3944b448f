"""`cagrad`: conflict-averse gradient descent (Liu, Liu, Jin, Stone & Liu, "Conflict-Averse Gradient
Descent for Multi-task Learning", NeurIPS 2021, Algorithm 1).

With g_0 = (1/K) Σ_k g_k and g_w = Σ_k w_k g_k: w = argmin over the simplex of ``g_wᵀ g_0 + √φ ‖g_w‖``,
φ = c² ‖g_0‖²; the update is ``d = g_0 + (√φ / ‖g_w‖) g_w``, divided by 1 + c² (the authors' default
rescaling, ``rescale``: 0 none, 1 by 1 + c², 2 by 1 + c). The shared elements get d; task-specific
elements their own task's gradient (λ = 1), as in the authors' code. c = 0.4 (paper, NYUv2).
The dual over w (K values) is solved by SciPy's SLSQP in float64.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize

from ..model import Trial
from .base import Step, Weighting, in_range, register_weighting


@dataclass(frozen=True)
class CAGradConfig:
    c: float = 0.4
    rescale: int = 1

    def __post_init__(self) -> None:
        in_range("c", self.c, 0.0)
        in_range("rescale", self.rescale, 0, 2)


def cagrad_direction(grads: torch.Tensor, c: float, rescale: int = 1) -> torch.Tensor:
    """grads [K, P] -> the CAGrad update d [P]."""
    K = grads.shape[0]
    gram = (grads.double() @ grads.double().T).cpu().numpy()  # [K, K]
    b = gram.mean(1)  # g_kᵀ g_0
    sqrt_phi = c * np.sqrt(gram.mean() + 1e-8)  # c ‖g_0‖
    objective = lambda w: float(w @ b + sqrt_phi * np.sqrt(w @ gram @ w + 1e-8))
    res = minimize(objective, np.full(K, 1.0 / K), bounds=[(0.0, 1.0)] * K,
                   constraints={"type": "eq", "fun": lambda w: 1.0 - w.sum()}, method="SLSQP")
    w = torch.from_numpy(res.x).to(grads)
    g_w = w @ grads  # [P]
    d = grads.mean(0) + (sqrt_phi / (g_w.norm() + 1e-8)) * g_w
    return d / {0: 1.0, 1: 1.0 + c**2, 2: 1.0 + c}[rescale]


@register_weighting("cagrad")
class CAGrad(Weighting):
    Config = CAGradConfig
    gradient_based = True

    def step(self, losses: torch.Tensor, present: torch.Tensor, grads: torch.Tensor | None) -> Step:
        return Step(weights=torch.ones_like(losses), shared_grad=cagrad_direction(grads, self.cfg.c, self.cfg.rescale))

    @classmethod
    def search_space(cls, trial: Trial) -> CAGradConfig:
        return CAGradConfig(c=trial.suggest_float("cagrad_c", 0.1, 0.9))
