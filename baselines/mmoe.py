"""`mmoe`: E shared experts, one softmax gate per task (MMoE paper; docs/protocol.md §1).

``e_i = MLP[expert](x)``, ``g_k = softmax(W_k x + b_k)`` ∈ R^E, ``y_k = tower_k(Σ_i g_k,i e_i)``.
The E experts are one bank (a batched matmul); gates have a bias. The experts' first layer and the gates
read the same x and are computed as one GEMM (``nn.shared_input_linear``). Gate weights of the last forward:
``gate_weights()["gates"]`` [K, B, E].
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from mtlbench.model import MTLModel, Trial, positive, register_model
from mtlbench.nn import Encoder, Gates, MLPBank, Towers, mix, shared_input_linear


@dataclass(frozen=True)
class MMoEConfig:
    n_experts: int = 8
    expert: tuple[int, ...] = (64, 32)  # hidden widths of every expert; the last is the expert's output
    tower: tuple[int, ...] = (32,)

    def __post_init__(self) -> None:
        positive("n_experts", self.n_experts)
        positive("expert layers", len(self.expert))
        for h in (*self.expert, *self.tower):
            positive("layer width", h)


def sample_experts(trial: Trial, max_experts: int = 16) -> dict:
    """Expert bank and tower sizes shared by the MoE search spaces (mmoe, omoe, ml_mmoe per level)."""
    layers = trial.suggest_int("expert_layers", 1, 2)
    width = trial.suggest_categorical("expert_width", [16, 32, 64, 128, 256])
    return dict(
        n_experts=trial.suggest_int("n_experts", 2, max_experts),
        expert=tuple(max(width >> i, 8) for i in range(layers)),
        tower=(trial.suggest_categorical("tower_width", [16, 32, 64]),),
    )


@register_model("mmoe")
class MMoE(MTLModel):
    Config = MMoEConfig
    one_gate: ClassVar[bool] = False  # omoe: a single gate shared by all tasks
    width_fields = ("expert",)

    @classmethod
    def depth(cls, cfg) -> int:
        return len(cfg.expert) + len(cfg.tower)

    def __init__(self, inputs, tasks, cfg: MMoEConfig, shared):
        super().__init__(inputs, tasks, cfg, shared)
        K = self.n_tasks
        self.encoder = Encoder(inputs, shared.emb_dim)
        d = self.encoder.out_dim
        self.experts = MLPBank(cfg.n_experts, d, cfg.expert, shared.dropout)
        self.gates = Gates(1 if self.one_gate else K, d, cfg.n_experts)
        self.towers = Towers(K, self.experts.out_dim, cfg.tower, shared.dropout)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        x = self.encoder(x_num, x_cat)  # [B, d]
        z_experts, z_gates = shared_input_linear(x, [self.experts.layers[0], self.gates.linear])  # one GEMM
        h = mix(self.gates.from_logits(z_gates), self.experts.after_first(z_experts))  # [G, B, E] · [E, B, h] -> [G, B, h]
        return self.towers(h[0] if self.one_gate else h)  # [B, K]

    @classmethod
    def search_space(cls, trial: Trial, n_tasks: int) -> MMoEConfig:
        return cls.Config(**sample_experts(trial))
