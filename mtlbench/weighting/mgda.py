"""`mgda`: multiple-gradient descent as multi-objective optimisation (Sener & Koltun, "Multi-Task Learning
as Multi-Objective Optimization", NeurIPS 2018).

λ = argmin over the simplex of ‖Σ_k λ_k g_k‖², g_k the gradient of task k's loss w.r.t. the shared
elements, found by the paper's Frank-Wolfe solver (Algorithm 2: start at 1/K, move towards the task whose
gradient has the smallest inner product with the current point, exact line search); exact for K = 2. The
step applies λ_k (divided by the normaliser n_k of task k) to every parameter: the shared elements get
Σ_k λ_k g_k / n_k, the min-norm element of the normalised gradients. Task-specific parameters get
λ_k/n_k ∇L_k as in the authors' code (which backpropagates Σ_k λ_k L_k); LibMTL gives them ∇L_k instead
(benchmarks/README.md, comparison with LibMTL).

Deviations: the upper bound of MGDA-UB (gradients w.r.t. one shared representation Z) is not used, since
MMoE/PLE-type models have no single shared representation; the min-norm problem is solved on the shared
parameters' gradients (the paper's exact MGDA). ``normalization`` (n_k): "none" (default) | "l2" (‖g_k‖) |
"loss" (L_k) | "loss+" (L_k ‖g_k‖), the options of the authors' code. The K×K solver runs in float64.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import MtlbenchError
from ..model import Trial
from .base import Step, Weighting, expand, in_range, register_weighting

NORMALIZATIONS = ("none", "l2", "loss", "loss+")


@dataclass(frozen=True)
class MGDAConfig:
    normalization: str = "none"
    max_iter: int = 250  # Frank-Wolfe iterations (paper's code)
    tol: float = 1e-5  # stop when the step size falls below this

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise MtlbenchError(f"hyper-parameter normalization={self.normalization!r} is not one of {', '.join(NORMALIZATIONS)}.")
        in_range("max_iter", self.max_iter, 1)
        in_range("tol", self.tol, 0.0)


def _segment_min(vv: float, vu: float, uu: float) -> float:
    """γ ∈ [0, 1] minimising ‖(1−γ) v + γ u‖² from the inner products v·v, v·u, u·u."""
    if vu >= vv:
        return 0.0
    if vu >= uu:
        return 1.0
    return (vv - vu) / (vv - 2.0 * vu + uu)


def min_norm_weights(gram: torch.Tensor, max_iter: int = 250, tol: float = 1e-5) -> torch.Tensor:
    """Frank-Wolfe for min_{λ ∈ simplex} λᵀ M λ, M = gram [K, K] (float64) -> λ [K]."""
    K = gram.shape[0]
    lam = torch.full((K,), 1.0 / K, dtype=torch.float64)
    for _ in range(max_iter):
        m_lam = gram @ lam  # [K]
        t = int(torch.argmin(m_lam))
        gamma = _segment_min(float(lam @ m_lam), float(m_lam[t]), float(gram[t, t]))
        lam = (1.0 - gamma) * lam
        lam[t] += gamma
        if gamma < tol:
            break
    return lam


@register_weighting("mgda")
class MGDA(Weighting):
    Config = MGDAConfig
    gradient_based = True

    def normalizers(self, grads: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
        """n_k for the present tasks: grads [K', P], losses [K'] -> [K']."""
        norm = self.cfg.normalization
        ones = torch.ones_like(losses)
        g = grads.norm(dim=1) if norm in ("l2", "loss+") else ones
        l = losses if norm in ("loss", "loss+") else ones
        return (g * l).clamp_min(1e-12)

    def step(self, losses: torch.Tensor, present: torch.Tensor, grads: torch.Tensor | None) -> Step:
        n = self.normalizers(grads, losses.detach()[present].float())  # [K']
        g = (grads / n[:, None]).double()  # [K', P]
        lam = min_norm_weights((g @ g.T).cpu(), self.cfg.max_iter, self.cfg.tol).to(n) / n  # [K']
        return Step(weights=expand(lam.to(losses), present))

    @classmethod
    def search_space(cls, trial: Trial) -> MGDAConfig:
        return MGDAConfig(normalization=trial.suggest_categorical("mgda_normalization", list(NORMALIZATIONS)))
