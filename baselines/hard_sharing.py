"""`hard_sharing` (shared bottom): one ``MLP[bottom]`` shared by all tasks, ``y_k = tower_k(bottom(x))``."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from mtlbench.model import MTLModel, Trial, positive, register_model
from mtlbench.nn import Encoder, MLPBank, Towers


@dataclass(frozen=True)
class HardSharingConfig:
    bottom: tuple[int, ...] = (128, 64)
    tower: tuple[int, ...] = (32,)

    def __post_init__(self) -> None:
        for h in (*self.bottom, *self.tower):
            positive("layer width", h)


@register_model("hard_sharing")
class HardSharing(MTLModel):
    Config = HardSharingConfig
    width_fields = ("bottom",)

    @classmethod
    def depth(cls, cfg) -> int:
        return len(cfg.bottom) + len(cfg.tower)

    def __init__(self, inputs, tasks, cfg: HardSharingConfig, shared):
        super().__init__(inputs, tasks, cfg, shared)
        self.encoder = Encoder(inputs, shared.emb_dim)
        self.bottom = MLPBank(1, self.encoder.out_dim, cfg.bottom, shared.dropout)
        self.towers = Towers(self.n_tasks, self.bottom.out_dim, cfg.tower, shared.dropout)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        h = self.bottom(self.encoder(x_num, x_cat))[0]  # [B, h]: one representation for every tower
        return self.towers(h)  # [B, K]

    @classmethod
    def search_space(cls, trial: Trial, n_tasks: int) -> HardSharingConfig:
        layers = trial.suggest_int("bottom_layers", 1, 3)
        width = trial.suggest_categorical("bottom_width", [64, 128, 256, 512])
        tower = trial.suggest_categorical("tower_width", [16, 32, 64])
        return HardSharingConfig(bottom=tuple(max(width >> i, 8) for i in range(layers)), tower=(tower,))
