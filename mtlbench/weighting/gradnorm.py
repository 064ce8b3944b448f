"""`gradnorm`: gradient normalisation (Chen, Badrinarayanan, Lee & Rabinovich, "GradNorm: Gradient
Normalization for Adaptive Loss Balancing in Deep Multitask Networks", ICML 2018).

Learnable weights w_k; with G_k = ‖∇ w_k L_k‖ over the shared elements, Ḡ its mean over tasks,
L̃_k = L_k(t)/L_k(0) and r_k = L̃_k / mean(L̃): ``L_grad = Σ_k |G_k − Ḡ r_k^α|`` with the target Ḡ r_k^α
held constant (eq. 2). w gets ∇_w L_grad only (not the task loss's gradient); the model gets
∇ Σ_k w_k L_k. α = 1.5 (the paper's NYUv2 value).

Deviations: G_k is taken over all shared elements, not the last shared layer W (no per-model code says
which layer that is; LibMTL does the same). The paper renormalises Σ w_k = K after each step; here
w = K · softmax(ℓ) with learnable ℓ (init 0, w = 1), which keeps Σ w_k = K and w > 0 at every step.
L_k(0) is task k's loss in the first batch where it is present; L_grad runs over the present tasks.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model import Trial
from .base import Step, Weighting, in_range, register_weighting


@dataclass(frozen=True)
class GradNormConfig:
    alpha: float = 1.5

    def __post_init__(self) -> None:
        in_range("alpha", self.alpha, 0.0)


@register_weighting("gradnorm")
class GradNorm(Weighting):
    Config = GradNormConfig
    gradient_based = True
    state_attrs = ("initial",)

    def setup(self) -> None:
        self.logits = torch.zeros(self.n_tasks, device=self.device, requires_grad=True)  # ℓ [K]
        self.initial = torch.full((self.n_tasks,), float("nan"), device=self.device)  # L_k(0) [K]

    def parameters(self) -> list[torch.Tensor]:
        return [self.logits]

    def step(self, losses: torch.Tensor, present: torch.Tensor, grads: torch.Tensor | None) -> Step:
        w = self.n_tasks * torch.softmax(self.logits, 0)  # [K]
        loss = losses.detach().float()
        self.initial = torch.where(present & self.initial.isnan(), loss, self.initial)
        ratio = loss[present] / self.initial[present].clamp_min(1e-12)  # L̃ [K']
        r = ratio / ratio.mean().clamp_min(1e-12)
        g = w[present] * grads.norm(dim=1)  # G_k [K']
        target = (g.mean() * r**self.cfg.alpha).detach()
        (self.logits.grad,) = torch.autograd.grad((g - target).abs().sum(), self.logits)
        return Step(weights=w.detach().to(losses))

    @classmethod
    def search_space(cls, trial: Trial) -> GradNormConfig:
        return GradNormConfig(alpha=trial.suggest_float("gradnorm_alpha", 0.0, 3.0))
