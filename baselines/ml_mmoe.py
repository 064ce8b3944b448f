"""`ml_mmoe`: MMoE with L levels of shared experts (docs/protocol.md §1; PLE paper, Fig. 1).

Level-1 experts read x. Expert i of level l ≥ 2 reads its own gated mix of the level-(l−1) experts,
its gate's selector being the raw input x like every other gate:
``e_i^l = MLP[expert](Σ_j softmax(W_i^l x + b_i^l)_j e_j^{l−1})``. The K task gates (selector x) mix the
last level: ``y_k = tower_k(Σ_i softmax(W_k x + b_k)_i e_i^L)``. Every level is one expert bank; gates
have a bias. The first level's first layer and every gate read x and are one GEMM (``nn.shared_input_linear``). Gate weights: ``gate_weights()["expert_gates.<l-2>"]`` [E, B, E] for level l ≥ 2 and
``["task_gates"]`` [K, B, E].
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mtlbench.baselines.mmoe import sample_experts
from mtlbench.model import MTLModel, Trial, positive, register_model
from mtlbench.nn import Encoder, GateLabels, Gates, MLPBank, Towers, mix, shared_input_linear


@dataclass(frozen=True)
class MLMMoEConfig:
    levels: int = 2
    n_experts: int = 8  # experts per level
    expert: tuple[int, ...] = (64,)  # hidden widths of every expert (all levels)
    tower: tuple[int, ...] = (32,)

    def __post_init__(self) -> None:
        positive("levels", self.levels)
        positive("n_experts", self.n_experts)
        positive("expert layers", len(self.expert))
        for h in (*self.expert, *self.tower):
            positive("layer width", h)


@register_model("ml_mmoe")
class MLMMoE(MTLModel):
    Config = MLMMoEConfig
    width_fields = ("expert",)

    @classmethod
    def depth(cls, cfg) -> int:
        return cfg.levels * len(cfg.expert) + len(cfg.tower)

    def __init__(self, inputs, tasks, cfg: MLMMoEConfig, shared):
        super().__init__(inputs, tasks, cfg, shared)
        self.encoder = Encoder(inputs, shared.emb_dim)
        d, E, h = self.encoder.out_dim, cfg.n_experts, cfg.expert[-1]
        self.experts = nn.ModuleList(
            MLPBank(E, d if l == 0 else h, cfg.expert, shared.dropout) for l in range(cfg.levels)
        )
        self.expert_gates = nn.ModuleList(Gates(E, d, E) for _ in range(cfg.levels - 1))  # levels 2..L
        self.task_gates = Gates(self.n_tasks, d, E)
        self.towers = Towers(self.n_tasks, h, cfg.tower, shared.dropout)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        x = self.encoder(x_num, x_cat)  # [B, d]
        # the first experts' layer and every gate read x: one GEMM
        z = shared_input_linear(x, [self.experts[0].layers[0], self.task_gates.linear, *(g.linear for g in self.expert_gates)])
        e = self.experts[0].after_first(z[0])  # [E, B, h]
        for gates, logits, bank in zip(self.expert_gates, z[2:], self.experts[1:]):
            e = bank(mix(gates.from_logits(logits), e))  # expert i reads Σ_j g_ij e_j: [E, B, h] -> [E, B, h]
        return self.towers(mix(self.task_gates.from_logits(z[1]), e))  # [K, B, h] -> [B, K]

    def gate_labels(self) -> dict[str, GateLabels]:
        """Expert gates of level l ≥ 2 (rows: its experts, columns: level l−1's experts) and the task gates
        over the last level L's experts."""
        L, E = self.cfg.levels, self.cfg.n_experts

        def experts(level: int) -> tuple[str, ...]:
            return tuple(f"L{level} expert {j + 1}" for j in range(E))

        labels = {f"expert_gates.{l - 2}": GateLabels(f"level {l}: expert gates", l, experts(l), experts(l - 1))
                  for l in range(2, L + 1)}
        labels["task_gates"] = GateLabels(f"level {L}: task gates", L, tuple(t.name for t in self.tasks), experts(L))
        return labels

    @classmethod
    def search_space(cls, trial: Trial, n_tasks: int) -> MLMMoEConfig:
        # at most 8 experts per level: every level-l expert has its own gate over x (E² · d weights per
        # level), so 16 would put the space far above the other models' sizes
        return cls.Config(levels=trial.suggest_int("levels", 2, 3), **sample_experts(trial, max_experts=8))
