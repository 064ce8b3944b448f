"""`nash_mtl`: multi-task learning as a bargaining game (Navon, Shamsian, Achituve, Maron, Kawaguchi,
Chechik & Fetaya, "Multi-Task Learning as a Bargaining Game", ICML 2022).

α solves ``Gᵀ G α = 1/α`` elementwise, α > 0 (the Nash bargaining solution, eq. 3), G the shared gradients
of the tasks. It is the unique minimiser of the strictly convex ``½ αᵀ M α − Σ_k log α_k`` (M = Gᵀ G),
found here by Newton's method on M/‖M‖_F (then α /= √‖M‖_F) instead of the paper's sequence of convex
programs (CVXPY) — the same fixed point, solved to tolerance. The step is ``Σ_k α_k L_k`` for every
parameter; as in the authors' code, the shared gradient is clipped to norm ``max_norm`` (1.0; 0 turns it
off; aux's gradient is outside the clip). A task whose shared gradient is 0 gets α_k = 0 (the equation has
no solution for it). Weights are updated every step (the code's ``update_weights_every`` = 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model import Trial
from .base import Step, Weighting, expand, in_range, register_weighting


@dataclass(frozen=True)
class NashMTLConfig:
    max_norm: float = 1.0
    max_iter: int = 50  # Newton iterations
    tol: float = 1e-10  # stop when ‖Mα − 1/α‖ falls below this

    def __post_init__(self) -> None:
        in_range("max_norm", self.max_norm, 0.0)
        in_range("max_iter", self.max_iter, 1)
        in_range("tol", self.tol, 0.0)


def nash_weights(gram: torch.Tensor, max_iter: int = 50, tol: float = 1e-10) -> torch.Tensor:
    """α > 0 with α ⊙ (M α) = 1 for a gram M [K, K] (float64) with a positive diagonal -> α [K]."""
    scale = gram.norm()
    m = gram / scale
    alpha = torch.ones(m.shape[0], dtype=torch.float64)
    f = lambda a: 0.5 * a @ m @ a - torch.log(a).sum()
    for _ in range(max_iter):
        grad = m @ alpha - 1.0 / alpha  # [K]
        if grad.norm() < tol:
            break
        step = torch.linalg.solve(m + torch.diag(1.0 / alpha**2), grad)  # Newton direction
        t, f0 = 1.0, f(alpha)
        while (alpha - t * step <= 0).any() or f(alpha - t * step) > f0 - 0.25 * t * (grad @ step):
            t *= 0.5
            if t < 1e-12:
                break
        alpha = alpha - t * step
    return alpha / scale.sqrt()


@register_weighting("nash_mtl")
class NashMTL(Weighting):
    Config = NashMTLConfig
    gradient_based = True

    def step(self, losses: torch.Tensor, present: torch.Tensor, grads: torch.Tensor | None) -> Step:
        gram = (grads.double() @ grads.double().T).cpu()  # [K', K'] (the solver runs on the host)
        alpha = torch.zeros(gram.shape[0], dtype=torch.float64)  # [K']
        ok = gram.diagonal() > 0
        if ok.any():
            alpha[ok] = nash_weights(gram[ok][:, ok], self.cfg.max_iter, self.cfg.tol)
        alpha = alpha.to(grads)
        shared = alpha @ grads  # [P]
        norm = shared.norm()
        clip = self.cfg.max_norm > 0 and norm > self.cfg.max_norm
        return Step(weights=expand(alpha.to(losses), present), shared_grad=shared * (self.cfg.max_norm / norm) if clip else None)

    @classmethod
    def search_space(cls, trial: Trial) -> NashMTLConfig:
        return NashMTLConfig(max_norm=trial.suggest_categorical("nash_mtl_max_norm", [0.0, 1.0, 5.0]))
