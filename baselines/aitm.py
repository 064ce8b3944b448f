"""`aitm`: Adaptive Information Transfer Multi-task (Xi et al., KDD 2021, "Modeling the Sequential Dependence
among Audience Multi-step Conversions with Multi-task Learning").

Shared embeddings; task k's tower ``q_k = MLP[tower](x)`` (the K towers are one bank). The AIT module
carries information along the task order: ``z_1 = q_1`` and for k ≥ 2

    p_{k−1} = ReLU(W_k z_{k−1} + b_k)                       (what step k−1 transfers)
    w_u = softmax_u(⟨h1_k(u), h2_k(u)⟩ / √d),  u ∈ {p_{k−1}, q_k}
    z_k = Σ_u w_u h3_k(u)

with h1, h2, h3 single linear layers, then ``l_k = Linear(z_k)``: the logit of reaching step k from an
impression (end-to-end: click, then click-and-buy). The steps run one after the other (the dependence is
sequential); within a step everything is batched.

Outputs: a funnel step k (``TaskSpec.after = j``) outputs the conditional logit of
``min(σ(l_k) / σ(l_j), 1 − 1e-6)`` (pCVR, scored on clicks like every model's); other tasks output l_k.
Training (``loss_view``): as in the paper, BCE of σ(l_j) and of the joint σ(l_k) (= pCTR·pCVR, label
click·buy) over every impression (``mtlbench.entire_space``), plus the behavioural expectation calibrator
through ``aux_loss``: ``α · mean_i max(σ(l_k) − σ(l_j), 0)`` for every funnel step (a later step is never
more likely than the earlier one). Deviation: where σ(l_k) > σ(l_j) the joint term is σ(l_j)·(1 − 1e-6)
(the conditional is capped below 1), so only the calibrator pushes σ(l_k) down there.
On a suite without a funnel step there is no calibrator and every output is l_k; ``run`` skips the model
there (``requires = "funnel"``).

Paper defaults: tower 128-64-32, AIT dimension 32 (the tower's output width), α = 0.6.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from mtlbench.entire_space import entire_space_view, logit_from_log_prob, parents
from mtlbench.model import MTLModel, Trial, positive, register_model
from mtlbench.nn import Encoder, LinearBank, MLPBank


@dataclass(frozen=True)
class AITMConfig:
    tower: tuple[int, ...] = (128, 64, 32)  # every task tower's hidden widths; the last is the AIT dimension
    calibrator: float = 0.6  # α, weight of the behavioural expectation calibrator

    def __post_init__(self) -> None:
        positive("tower layers", len(self.tower))
        for h in self.tower:
            positive("layer width", h)
        positive("calibrator", self.calibrator, allow_zero=True)


@register_model("aitm")
class AITM(MTLModel):
    Config = AITMConfig
    requires = "funnel"
    width_fields = ("tower",)

    @classmethod
    def depth(cls, cfg) -> int:
        return len(cfg.tower)

    def __init__(self, inputs, tasks, cfg: AITMConfig, shared):
        super().__init__(inputs, tasks, cfg, shared)
        K = self.n_tasks
        self.encoder = Encoder(inputs, shared.emb_dim)
        self.towers = MLPBank(K, self.encoder.out_dim, cfg.tower, shared.dropout)
        d = self.towers.out_dim
        self.transfer = LinearBank(K - 1, d, d)  # step k's info layer reads z_{k-1}
        self.attention = LinearBank(3 * (K - 1), d, d)  # h1, h2, h3 of step k: members 3(k-1) .. 3(k-1)+2
        self.heads = LinearBank(K, d, 1)
        self.parent = parents(self.tasks)
        self._logits: torch.Tensor | None = None  # l of the last forward [B, K] (for the calibrator)

    def ait(self, k: int, z_prev: torch.Tensor, q_k: torch.Tensor) -> torch.Tensor:
        """z_k [B, d] from z_{k-1} [B, d] and q_k [B, d] (k ≥ 1)."""
        t = self.transfer
        p = F.relu(z_prev @ t.weight[k - 1] + t.bias[k - 1])  # [B, d]
        u = torch.stack([p, q_k])  # [2, B, d]
        a = self.attention
        w, b = a.weight[3 * (k - 1):3 * k], a.bias[3 * (k - 1):3 * k]  # [3, d, d], [3, 1, d]
        h = torch.einsum("ubd,cde->cube", u, w) + b.unsqueeze(1)  # [3, 2, B, d]: h1, h2, h3 of both inputs
        att = torch.softmax((h[0] * h[1]).sum(-1) / math.sqrt(h.shape[-1]), dim=0)  # [2, B]
        return (att.unsqueeze(-1) * h[2]).sum(0)  # [B, d]

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        q = self.towers(self.encoder(x_num, x_cat))  # [K, B, d]
        z = [q[0]]
        for k in range(1, self.n_tasks):  # sequential by design: step k reads step k-1
            z.append(self.ait(k, z[-1], q[k]))
        logits = self.heads(torch.stack(z)).squeeze(-1).transpose(0, 1)  # [B, K]: l_k
        self._logits = logits
        cols = list(logits.unbind(1))
        for k, j in enumerate(self.parent):
            if j >= 0:  # conditional: log σ(l_k) − log σ(l_j), capped below 0
                cols[k] = logit_from_log_prob(F.logsigmoid(logits[:, k]) - F.logsigmoid(logits[:, j]))
        return torch.stack(cols, 1)  # [B, K]

    def loss_view(self, out, y, mask):
        return entire_space_view(self.tasks, out, y, mask)

    def aux_loss(self) -> torch.Tensor:
        """α · Σ_{funnel steps k after j} mean_i max(σ(l_k) − σ(l_j), 0), from the last forward."""
        steps = [(k, j) for k, j in enumerate(self.parent) if j >= 0]
        if not steps or self._logits is None or self.cfg.calibrator == 0:
            return super().aux_loss()
        p = torch.sigmoid(self._logits)  # [B, K]
        later, earlier = zip(*steps)
        gap = F.relu(p[:, list(later)] - p[:, list(earlier)])  # [B, steps]
        return self.cfg.calibrator * gap.mean(0).sum()

    @classmethod
    def search_space(cls, trial: Trial, n_tasks: int) -> AITMConfig:
        layers = trial.suggest_int("tower_layers", 2, 3)
        width = trial.suggest_categorical("tower_width", [64, 128, 256])
        return AITMConfig(tower=tuple(max(width >> i, 8) for i in range(layers)),
                          calibrator=trial.suggest_float("calibrator", 0.1, 1.0, log=True))
