"""`sluice`: sluice network (Ruder et al. 2019; docs/protocol.md §1).

K columns of L equal-width layers; each layer's output is split into S subspaces and one
α ∈ R^{KS×KS} per layer mixes every subspace of every task (initialised ``α_ii = a``,
``α_ij = (1 − a)/(KS − 1)``, the cross-stitch rule over KS units); the next layer reads the stitched
output. Task k's tower reads ``Σ_l softmax(β_k)_l h̃_k^l`` over the post-stitch outputs of all layers
(layer skip; β initialised uniform). ``layer_weights()`` gives softmax(β) [K, L].

Orthogonality penalty (optional, weight ``ortho``; through ``aux_loss()``): for every layer and column,
the pre-stitch subspace activations G_s [B, w/S] are penalised by
``ortho · Σ_{s<t} ‖G_sᵀ G_t / B‖_F²``. Deviation from the paper's unnormalised ``‖G_sᵀ G_t‖_F²``:
dividing by the batch size B makes ``ortho`` independent of the batch size, which is tuned.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mtlbench.errors import MtlbenchError
from mtlbench.model import MTLModel, Trial, positive, register_model
from mtlbench.nn import Encoder, StitchedColumns, Towers


@dataclass(frozen=True)
class SluiceConfig:
    layers: int = 2
    width: int = 64  # every layer of every column; divisible by subspaces
    subspaces: int = 2  # S
    stitch_init: float = 0.9  # a
    ortho: float = 0.01  # weight of the orthogonality penalty (0: off)
    tower: tuple[int, ...] = (32,)

    def __post_init__(self) -> None:
        positive("layers", self.layers)
        positive("width", self.width)
        if not 0.0 <= self.stitch_init <= 1.0:
            raise MtlbenchError(f"stitch_init={self.stitch_init} is out of range; use 0 <= stitch_init <= 1 (paper: 0.9).")
        positive("subspaces", self.subspaces)
        positive("ortho", self.ortho, allow_zero=True)
        for h in self.tower:
            positive("layer width", h)
        if self.width % self.subspaces:
            raise MtlbenchError(f"sluice width={self.width} is not divisible by subspaces={self.subspaces}; choose a multiple.")


@register_model("sluice")
class Sluice(MTLModel):
    Config = SluiceConfig
    width_fields = ("width",)

    @classmethod
    def depth(cls, cfg) -> int:
        return cfg.layers + len(cfg.tower)

    def __init__(self, inputs, tasks, cfg: SluiceConfig, shared):
        super().__init__(inputs, tasks, cfg, shared)
        self.encoder = Encoder(inputs, shared.emb_dim)
        self.columns = StitchedColumns(self.n_tasks, self.encoder.out_dim, cfg.width, cfg.layers,
                                       subspaces=cfg.subspaces, a=cfg.stitch_init, dropout=shared.dropout)
        self.beta = nn.Parameter(torch.zeros(self.n_tasks, cfg.layers))  # [K, L] logits of the layer weights
        self.towers = Towers(self.n_tasks, cfg.width, cfg.tower, shared.dropout)
        self._aux: torch.Tensor | None = None

    def layer_weights(self) -> torch.Tensor:
        return torch.softmax(self.beta, dim=-1)  # [K, L]

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        h = self.columns(self.encoder(x_num, x_cat))  # [L, K, B, w]
        if self.cfg.ortho > 0:
            L, K, B, w = self.columns.pre.shape
            S = self.cfg.subspaces
            g = self.columns.pre.reshape(L, K, B, S, w // S)  # subspace s of column k: [B, w/S]
            gram = torch.einsum("lkbsc,lkbte->lkstce", g, g) / B  # G_sᵀ G_t / B
            off = ~torch.eye(S, dtype=torch.bool, device=h.device)  # s != t counts every pair twice
            self._aux = self.cfg.ortho * 0.5 * (gram**2).sum((-1, -2))[..., off].sum()
        return self.towers(torch.einsum("kl,lkbd->kbd", self.layer_weights(), h))  # [K, B, w] -> [B, K]

    def aux_loss(self) -> torch.Tensor:
        return self._aux if self._aux is not None else super().aux_loss()

    @classmethod
    def search_space(cls, trial: Trial, n_tasks: int) -> SluiceConfig:
        return SluiceConfig(
            layers=trial.suggest_int("sluice_layers", 1, 3),
            width=trial.suggest_categorical("sluice_width", [32, 64, 128, 256]),
            subspaces=trial.suggest_categorical("subspaces", [2, 4]),
            stitch_init=trial.suggest_float("stitch_init", 0.5, 0.95),
            ortho=trial.suggest_categorical("ortho", [0.0, 1e-3, 1e-2, 1e-1]),
            tower=(trial.suggest_categorical("tower_width", [16, 32, 64]),),
        )
