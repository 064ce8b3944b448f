"""`ple`: Progressive Layered Extraction, N stacked CGC extraction levels (PLE paper, Section 4; docs/protocol.md §1).

At level j, task-k experts read ``q_k^{j−1}`` and shared experts read ``q_s^{j−1}`` (both = x at j = 1).
Task gate k (selector ``q_k^{j−1}``) mixes the m task-k and m_s shared experts -> ``q_k^j``; the shared
gate (selector ``q_s^{j−1}``) mixes ALL K·m + m_s experts of the level -> ``q_s^j``. The last level has no
shared gate; ``y_k = tower_k(q_k^N)``. With N = 1 this is `cgc` (same module tree and parameters).
Gates: softmax(Linear with bias). Gate weights: ``gate_weights()["levels.<j>.task_gates"]`` [K, B, m + m_s]
and ``["levels.<j>.shared_gate"]`` [1, B, K·m + m_s] (levels j < N − 1, 0-based).

Deviation from docs/protocol.md §1: every task has the same number m of task-specific experts (the protocol allows m_k
per task). Reason: the K task gates of a level are one bank of equal shape; the PLE paper's experiments
use equal counts too.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mtlbench.model import MTLModel, Trial, positive, register_model
from mtlbench.nn import Encoder, ExtractionLevel, GateLabels, Towers


@dataclass(frozen=True)
class PLEConfig:
    levels: int = 2
    specific_experts: int = 2  # m: task-specific experts per task and level
    shared_experts: int = 2  # m_s: shared experts per level
    expert: tuple[int, ...] = (64,)  # hidden widths of every expert; the last is its output
    tower: tuple[int, ...] = (32,)

    def __post_init__(self) -> None:
        positive("levels", self.levels)
        positive("specific_experts", self.specific_experts)
        positive("shared_experts", self.shared_experts)
        positive("expert layers", len(self.expert))
        for h in (*self.expert, *self.tower):
            positive("layer width", h)


def sample_extraction(trial: Trial) -> dict:
    """Expert counts and sizes shared by the cgc and ple search spaces."""
    layers = trial.suggest_int("expert_layers", 1, 2)
    width = trial.suggest_categorical("expert_width", [16, 32, 64, 128, 256])
    return dict(
        specific_experts=trial.suggest_int("specific_experts", 1, 4),
        shared_experts=trial.suggest_int("shared_experts", 1, 4),
        expert=tuple(max(width >> i, 8) for i in range(layers)),
        tower=(trial.suggest_categorical("tower_width", [16, 32, 64]),),
    )


@register_model("ple")
class PLE(MTLModel):
    Config = PLEConfig
    width_fields = ("expert",)

    @classmethod
    def depth(cls, cfg) -> int:  # CGC is one level
        return getattr(cfg, "levels", 1) * len(cfg.expert) + len(cfg.tower)

    def __init__(self, inputs, tasks, cfg: PLEConfig, shared):
        super().__init__(inputs, tasks, cfg, shared)
        self.encoder = Encoder(inputs, shared.emb_dim)
        d, h, N = self.encoder.out_dim, cfg.expert[-1], cfg.levels
        self.levels = nn.ModuleList(
            ExtractionLevel(self.n_tasks, d if j == 0 else h, cfg.specific_experts, cfg.shared_experts,
                            cfg.expert, shared.dropout, shared_gate=j < N - 1)
            for j in range(N)
        )
        self.towers = Towers(self.n_tasks, h, cfg.tower, shared.dropout)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        q = self.encoder(x_num, x_cat)  # [B, d]
        for level in self.levels:
            q = level(q)  # [K+1, B, h] (q_1..q_K, q_s); the last level gives [K, B, h]
        return self.towers(q)  # [B, K]

    def gate_labels(self) -> dict[str, GateLabels]:
        """Per level j (0-based name, 1-based title): task gates placed among all K·m + m_s experts of the
        level, and the shared gate (levels before the last)."""
        tasks = tuple(t.name for t in self.tasks)
        return {f"levels.{j}.{bank}": labels for j, level in enumerate(self.levels)
                for bank, labels in level.gate_labels(tasks, j + 1).items()}

    @classmethod
    def search_space(cls, trial: Trial, n_tasks: int) -> PLEConfig:
        return cls.Config(levels=trial.suggest_int("levels", 2, 3), **sample_extraction(trial))
