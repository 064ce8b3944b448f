"""`single_task`: K fully separate networks ``encoder_k → MLP[bottom] → tower_k`` (docs/protocol.md §1).

Nothing is shared, so parameter count and FLOPs are those of K separate models; the K networks are
computed as one bank (every parameter has a leading task axis), and the trainer early-stops and
restores each task on its own validation score (``independent_tasks``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from mtlbench.model import MTLModel, Trial, positive, register_model
from mtlbench.nn import Encoder, MLPBank, Towers


@dataclass(frozen=True)
class SingleTaskConfig:
    bottom: tuple[int, ...] = (128, 64)
    tower: tuple[int, ...] = (32,)

    def __post_init__(self) -> None:
        for h in (*self.bottom, *self.tower):
            positive("layer width", h)


@register_model("single_task")
class SingleTask(MTLModel):
    Config = SingleTaskConfig
    width_fields = ("bottom",)

    @classmethod
    def depth(cls, cfg) -> int:
        return len(cfg.bottom) + len(cfg.tower)
    independent_tasks = True

    def __init__(self, inputs, tasks, cfg: SingleTaskConfig, shared):
        super().__init__(inputs, tasks, cfg, shared)
        K = self.n_tasks
        self.encoder = Encoder(inputs, shared.emb_dim, copies=K)  # one encoder per task
        self.bottoms = MLPBank(K, self.encoder.out_dim, cfg.bottom, shared.dropout)
        self.towers = Towers(K, self.bottoms.out_dim, cfg.tower, shared.dropout)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        x = self.encoder(x_num, x_cat)  # [K, B, d]: task k reads its own encoder
        return self.towers(self.bottoms(x))  # [K, B, h] -> [B, K]

    @classmethod
    def search_space(cls, trial: Trial, n_tasks: int) -> SingleTaskConfig:
        layers = trial.suggest_int("bottom_layers", 1, 3)
        width = trial.suggest_categorical("bottom_width", [32, 64, 128, 256])
        tower = trial.suggest_categorical("tower_width", [16, 32, 64])
        return SingleTaskConfig(bottom=tuple(max(width >> i, 8) for i in range(layers)), tower=(tower,))
