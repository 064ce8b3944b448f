"""`asymmetric`: a bottom per task; some tasks also read other tasks' bottoms (docs/protocol.md §1).

``h_k = bottom_k(x)``, ``y_k = tower_k([h_k ; h_j for j in uses[k]])``. ``uses`` is chosen by hand, never
learned or tuned. Task indices in ``uses`` are 0-based: ``uses[k]`` lists the tasks whose bottoms task k
also reads. Default (``uses=None``): task 0 reads only its own bottom, tasks 1..K−1 also read task 0's
(the protocol's "tasks 2..K read task 1's bottom"). The K bottoms are one bank; the towers' first layer reads
inputs of different widths, computed exactly (no zero padding) by ``ConcatLinearBank``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from mtlbench.errors import MtlbenchError
from mtlbench.model import MTLModel, Trial, positive, register_model
from mtlbench.nn import ConcatLinearBank, Encoder, MLPBank


@dataclass(frozen=True)
class AsymmetricConfig:
    bottom: tuple[int, ...] = (128, 64)
    tower: tuple[int, ...] = (32,)
    uses: tuple[tuple[int, ...], ...] | None = None  # None: ((), (0,), (0,), ...)

    def __post_init__(self) -> None:
        positive("bottom layers", len(self.bottom))
        for h in (*self.bottom, *self.tower):
            positive("layer width", h)

    def uses_for(self, n_tasks: int) -> tuple[tuple[int, ...], ...]:
        """The ``uses`` map for K tasks, checked: one entry per task, other tasks' indices, no repeats."""
        if self.uses is None:
            return ((),) + ((0,),) * (n_tasks - 1)
        if len(self.uses) != n_tasks:
            raise MtlbenchError(f"asymmetric uses={self.uses} has {len(self.uses)} entries; give one tuple per task ({n_tasks}).")
        for k, src in enumerate(self.uses):
            if any(not 0 <= j < n_tasks or j == k for j in src) or len(set(src)) != len(src):
                raise MtlbenchError(
                    f"asymmetric uses[{k}]={tuple(src)} is invalid; list distinct 0-based indices of other tasks (0..{n_tasks - 1})."
                )
        return tuple(tuple(src) for src in self.uses)


@register_model("asymmetric")
class Asymmetric(MTLModel):
    Config = AsymmetricConfig
    width_fields = ("bottom",)

    @classmethod
    def depth(cls, cfg) -> int:
        return len(cfg.bottom) + len(cfg.tower)

    def __init__(self, inputs, tasks, cfg: AsymmetricConfig, shared):
        super().__init__(inputs, tasks, cfg, shared)
        K = self.n_tasks
        self.uses = cfg.uses_for(K)
        self.encoder = Encoder(inputs, shared.emb_dim)
        self.bottoms = MLPBank(K, self.encoder.out_dim, cfg.bottom, shared.dropout)
        # tower_k = MLP[tower] -> Linear(., 1); its first layer reads [h_k ; h_j for j in uses[k]].
        first = cfg.tower[0] if cfg.tower else 1
        self.tower_in = ConcatLinearBank([(k, *self.uses[k]) for k in range(K)], self.bottoms.out_dim, first)
        self.tower_rest = MLPBank(K, first, cfg.tower[1:], shared.dropout, out=1) if cfg.tower else None

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        h = self.bottoms(self.encoder(x_num, x_cat))  # [K, B, h]
        t = self.tower_in(h)  # [K, B, tower[0]] (or [K, B, 1] without tower layers)
        if self.tower_rest is not None:
            t = F.relu(t)
            if self.shared.dropout > 0:
                t = F.dropout(t, self.shared.dropout, self.training)
            t = self.tower_rest(t)  # [K, B, 1]
        return t.squeeze(-1).transpose(0, 1)  # [B, K]

    @classmethod
    def search_space(cls, trial: Trial, n_tasks: int) -> AsymmetricConfig:
        layers = trial.suggest_int("bottom_layers", 1, 3)
        width = trial.suggest_categorical("bottom_width", [32, 64, 128, 256])
        tower = trial.suggest_categorical("tower_width", [16, 32, 64])
        return AsymmetricConfig(bottom=tuple(max(width >> i, 8) for i in range(layers)), tower=(tower,))
