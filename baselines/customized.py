"""`customized`: a bottom per task plus one shared bottom (docs/protocol.md §1).

``y_k = tower_k([bottom_k(x) ; bottom_s(x)])``. The K task bottoms and the shared bottom have one shape and form one bank of K + 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from mtlbench.model import MTLModel, Trial, positive, register_model
from mtlbench.nn import Encoder, MLPBank, Towers


@dataclass(frozen=True)
class CustomizedConfig:
    bottom: tuple[int, ...] = (128, 64)  # every task bottom and the shared bottom
    tower: tuple[int, ...] = (32,)

    def __post_init__(self) -> None:
        positive("bottom layers", len(self.bottom))
        for h in (*self.bottom, *self.tower):
            positive("layer width", h)


@register_model("customized")
class Customized(MTLModel):
    Config = CustomizedConfig
    width_fields = ("bottom",)

    @classmethod
    def depth(cls, cfg) -> int:
        return len(cfg.bottom) + len(cfg.tower)

    def __init__(self, inputs, tasks, cfg: CustomizedConfig, shared):
        super().__init__(inputs, tasks, cfg, shared)
        K = self.n_tasks
        self.encoder = Encoder(inputs, shared.emb_dim)
        self.bottoms = MLPBank(K + 1, self.encoder.out_dim, cfg.bottom, shared.dropout)  # K task bottoms, then shared
        self.towers = Towers(K, 2 * self.bottoms.out_dim, cfg.tower, shared.dropout)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        h = self.bottoms(self.encoder(x_num, x_cat))  # [K+1, B, h]
        K = self.n_tasks
        return self.towers(torch.cat([h[:K], h[K:].expand(K, -1, -1)], dim=-1))  # [K, B, 2h] -> [B, K]

    @classmethod
    def search_space(cls, trial: Trial, n_tasks: int) -> CustomizedConfig:
        layers = trial.suggest_int("bottom_layers", 1, 3)
        width = trial.suggest_categorical("bottom_width", [32, 64, 128, 256])
        tower = trial.suggest_categorical("tower_width", [16, 32, 64])
        return CustomizedConfig(bottom=tuple(max(width >> i, 8) for i in range(layers)), tower=(tower,))
