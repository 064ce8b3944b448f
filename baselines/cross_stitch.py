"""`cross_stitch`: K task columns with a cross-stitch unit after every layer (Misra et al. 2016; docs/protocol.md §1).

Every column has L layers of one width.
After layer l: ``h̃_k^l = Σ_j α_kj^l h_j^l``, α^l ∈ R^{K×K} initialised ``α_kk = a``,
``α_kj = (1 − a)/(K − 1)``. The next layer and the towers read the stitched outputs:
``y_k = tower_k(h̃_k^L)``. α is ``columns.stitches[l].alpha``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from mtlbench.errors import MtlbenchError
from mtlbench.model import MTLModel, Trial, positive, register_model
from mtlbench.nn import Encoder, StitchedColumns, Towers


@dataclass(frozen=True)
class CrossStitchConfig:
    layers: int = 2
    width: int = 64  # every layer of every column
    stitch_init: float = 0.9  # a: the initial weight a column keeps of itself
    tower: tuple[int, ...] = (32,)

    def __post_init__(self) -> None:
        positive("layers", self.layers)
        positive("width", self.width)
        if not 0.0 <= self.stitch_init <= 1.0:
            raise MtlbenchError(f"stitch_init={self.stitch_init} is out of range; use 0 <= stitch_init <= 1 (paper: 0.9).")
        for h in self.tower:
            positive("layer width", h)


@register_model("cross_stitch")
class CrossStitch(MTLModel):
    Config = CrossStitchConfig
    width_fields = ("width",)

    @classmethod
    def depth(cls, cfg) -> int:
        return cfg.layers + len(cfg.tower)

    def __init__(self, inputs, tasks, cfg: CrossStitchConfig, shared):
        super().__init__(inputs, tasks, cfg, shared)
        self.encoder = Encoder(inputs, shared.emb_dim)
        self.columns = StitchedColumns(self.n_tasks, self.encoder.out_dim, cfg.width, cfg.layers,
                                       subspaces=1, a=cfg.stitch_init, dropout=shared.dropout)
        self.towers = Towers(self.n_tasks, cfg.width, cfg.tower, shared.dropout)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        h = self.columns(self.encoder(x_num, x_cat))  # [L, K, B, w]
        return self.towers(h[-1])  # [B, K]

    @classmethod
    def search_space(cls, trial: Trial, n_tasks: int) -> CrossStitchConfig:
        return CrossStitchConfig(
            layers=trial.suggest_int("stitch_layers", 1, 3),
            width=trial.suggest_categorical("stitch_width", [32, 64, 128, 256]),
            stitch_init=trial.suggest_float("stitch_init", 0.5, 0.95),
            tower=(trial.suggest_categorical("tower_width", [16, 32, 64]),),
        )
