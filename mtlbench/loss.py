"""The masked multi-task loss of docs/protocol.md §2."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F


def task_weights(omega0: Sequence[float], gamma: Sequence[float], epoch: int) -> list[float]:
    """ω_k(t) = ω_k,0 · γ_k^t, t = epoch (0-based)."""
    return [w * g**epoch for w, g in zip(omega0, gamma)]


def masked_task_losses(out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, is_binary: torch.Tensor) -> torch.Tensor:
    """Per-task losses L_k = Σ_i δ_k^i loss_k(ŷ_k^i, y_k^i) / Σ_i δ_k^i, 0 for a task with no δ=1 sample.

    out, y [B, K] (logits for binary tasks), mask [B, K] bool, is_binary [K] bool -> [K].
    Binary tasks use BCE on logits, regression tasks MSE.
    """
    y = torch.where(mask, y, torch.zeros_like(y))  # labels outside a task's sample space may be NaN
    bce = F.binary_cross_entropy_with_logits(out, y, reduction="none")  # [B, K]
    mse = (out - y) ** 2  # [B, K]
    per_sample = torch.where(is_binary, bce, mse)  # [B, K]
    m = mask.to(out.dtype)
    return (per_sample * m).sum(0) / m.sum(0).clamp_min(1.0)  # [K]


def masked_loss(
    out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, is_binary: torch.Tensor, weights: torch.Tensor, aux: torch.Tensor
) -> torch.Tensor:
    """L = Σ_k ω_k(t) L_k + aux; ``weights`` [K] holds ω_k(t) for the current epoch."""
    return (weights * masked_task_losses(out, y, mask, is_binary)).sum() + aux
