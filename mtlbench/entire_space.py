"""Funnel steps trained over the entire impression space (ESMM, AITM): joint probabilities from conditional ones.

A suite's funnel step k (``TaskSpec.after = j``) is observed only where task j is positive (CVR after a
click). Every model outputs, for such a task, the logit of the *conditional* probability P(y_k | y_j = 1, x),
which is what the suite's metric scores on task k's mask. ESMM and AITM train it instead through the *joint*
probability P(y_j = 1, y_k = 1 | x) = P(y_j = 1 | x) · P(y_k = 1 | y_j = 1, x) on task j's whole sample space,
with label y_j · y_k (0 wherever y_j = 0): ``entire_space_view`` builds those terms for the masked loss.
Chains (k after j after i) multiply along the chain. Everything works on log-probabilities (BCE on logits).
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from .data import TaskSpec

#: A probability is kept at most 1 − ~1e-6 before taking its logit (log p ≤ LOG_P_MAX).
LOG_P_MAX = -1e-6


def logit_from_log_prob(log_p: torch.Tensor) -> torch.Tensor:
    """logit(p) = log p − log(1 − p) from log p (any shape), p clamped to at most 1 − ~1e-6."""
    log_p = log_p.clamp_max(LOG_P_MAX)
    return log_p - torch.log(-torch.expm1(log_p))


def parents(tasks: tuple[TaskSpec, ...]) -> list[int]:
    """Per task, the index of the task it is declared ``after`` (−1: none). Earlier tasks only."""
    names = [t.name for t in tasks]
    return [names.index(t.after) if t.after in names[:k] else -1 for k, t in enumerate(tasks)]


def entire_space_view(tasks: tuple[TaskSpec, ...], out: torch.Tensor, y: torch.Tensor,
                      mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(outputs, labels, masks) [B, K] for the masked loss: a funnel step k after j becomes the joint logit
    of y_j·y_k on task j's (joint) sample space; other tasks are unchanged.

    out [B, K]: task logits (conditional for funnel steps); y, mask [B, K]. A label outside its mask is
    treated as 0 (a conversion is never observed without a click).
    """
    par = parents(tasks)
    if all(p < 0 for p in par):
        return out, y, mask
    y_obs = torch.where(mask, y, torch.zeros_like(y))
    log_p = F.logsigmoid(out)  # [B, K] log of each task's own (conditional) probability
    cols_out, cols_y, cols_m = list(out.unbind(1)), list(y_obs.unbind(1)), list(mask.unbind(1))
    joint_lp = list(log_p.unbind(1))  # log joint probability of reaching step k
    for k, j in enumerate(par):  # K is a handful of tasks; steps depend on earlier ones
        if j < 0:
            continue
        joint_lp[k] = joint_lp[j] + log_p[:, k]
        cols_out[k] = logit_from_log_prob(joint_lp[k])
        cols_y[k] = cols_y[j] * y_obs[:, k]
        cols_m[k] = cols_m[j]
    return torch.stack(cols_out, 1), torch.stack(cols_y, 1), torch.stack(cols_m, 1)
