"""`pcgrad`: projecting conflicting gradients (Yu, Kumar, Gupta, Levine, Hausman & Finn, "Gradient Surgery
for Multi-Task Learning", NeurIPS 2020, Algorithm 1).

For each task i, g_i^PC starts at g_i; for every other task j in random order, if g_i^PC · g_j < 0 then
``g_i^PC −= (g_i^PC · g_j) / ‖g_j‖² g_j``. The shared elements get Σ_i g_i^PC; task-specific elements
their own task's gradient (λ = 1). The orders come from a generator seeded by the run seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import Step, Weighting, register_weighting


@dataclass(frozen=True)
class PCGradConfig:
    pass


def project_conflicting(grads: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """grads [K, P] -> Σ_i g_i^PC [P]."""
    K = grads.shape[0]
    sq = (grads * grads).sum(1).clamp_min(1e-30)  # [K]
    out = grads.clone()
    for i in range(K):
        for j in torch.randperm(K, generator=generator).tolist():
            if j == i:
                continue
            dot = out[i] @ grads[j]
            if dot < 0:
                out[i] -= (dot / sq[j]) * grads[j]
    return out.sum(0)


@register_weighting("pcgrad")
class PCGrad(Weighting):
    Config = PCGradConfig
    gradient_based = True
    state_attrs = ("generator",)

    def step(self, losses: torch.Tensor, present: torch.Tensor, grads: torch.Tensor | None) -> Step:
        return Step(weights=torch.ones_like(losses), shared_grad=project_conflicting(grads, self.generator))
