"""Shared building blocks. Every model in ``baselines/`` is assembled from these.

Layout convention: a *bank* of n same-shape networks keeps its members on the leading axis,
activations are [n, B, d]. A bank's layer is one batched matmul over weights stacked
[n, d_in, d_out] — never a Python loop over members (experts, towers, gates, task columns).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .data import InputSpec


class Encoder(nn.Module):
    """SPEC.md §0: per-field embeddings (dim e) of the categorical fields, concatenated with the
    numeric fields. ``copies`` > 1 gives that many independent encoders (single_task: one per task).

    forward(x_num [B, F_num], x_cat [B, F_cat]) -> [B, d] (copies == 1) or [copies, B, d]
    with d = F_cat * e + F_num.
    """

    def __init__(self, inputs: InputSpec, emb_dim: int, copies: int = 1):
        super().__init__()
        self.copies, self.emb_dim, self.n_cat = copies, emb_dim, inputs.n_cat
        self.out_dim = inputs.n_cat * emb_dim + inputs.n_num
        card = list(inputs.cat_cardinalities)
        total = sum(card)
        offsets = torch.tensor([0] + card[:-1], dtype=torch.long).cumsum(0) if card else torch.zeros(0, dtype=torch.long)
        # Copy c of field f, id v -> row c * total + offset_f + v of one embedding table.
        self.register_buffer("offsets", offsets, persistent=False)
        self.register_buffer("copy_offsets", torch.arange(copies, dtype=torch.long) * total, persistent=False)
        self.embedding = nn.Embedding(max(copies * total, 1), emb_dim) if total else None
        if self.embedding is not None:
            nn.init.normal_(self.embedding.weight, std=0.05)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        B = x_num.shape[0]
        if self.embedding is None:
            parts = [x_num.expand(self.copies, B, -1)]
        else:
            idx = x_cat + self.offsets  # [B, F_cat]
            idx = idx.unsqueeze(0) + self.copy_offsets.view(-1, 1, 1)  # [C, B, F_cat]
            emb = self.embedding(idx).reshape(self.copies, B, self.n_cat * self.emb_dim)  # [C, B, F_cat*e]
            parts = [emb, x_num.expand(self.copies, B, -1)]
        out = torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]  # [C, B, d]
        return out[0] if self.copies == 1 else out


class LinearBank(nn.Module):
    """n independent Linear(d_in, d_out) layers as one batched matmul.

    forward(x): x [B, d_in] (all members read the same input) or [n, B, d_in] -> [n, B, d_out].
    Initialised like ``nn.Linear``: U(-1/sqrt(d_in), 1/sqrt(d_in)) for weights and biases.
    """

    def __init__(self, n: int, d_in: int, d_out: int, bias: bool = True):
        super().__init__()
        self.n, self.d_in, self.d_out = n, d_in, d_out
        self.weight = nn.Parameter(torch.empty(n, d_in, d_out))  # [n, d_in, d_out]
        self.bias = nn.Parameter(torch.empty(n, 1, d_out)) if bias else None  # [n, 1, d_out]
        bound = 1.0 / math.sqrt(d_in) if d_in else 0.0
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # shared input: one GEMM [B, d_in] @ [d_in, n*d_out]
            B = x.shape[0]
            w = self.weight.permute(1, 0, 2).reshape(self.d_in, self.n * self.d_out)
            out = (x @ w).view(B, self.n, self.d_out).transpose(0, 1)  # [n, B, d_out]
            return out + self.bias if self.bias is not None else out
        if self.bias is not None:  # per-member input: one batched GEMM
            return torch.baddbmm(self.bias, x, self.weight)  # [n, B, d_out]
        return torch.bmm(x, self.weight)


class MLPBank(nn.Module):
    """n same-shape ``MLP[hidden]`` (Linear→ReLU→Dropout per hidden size), computed together.

    ``out`` appends a final Linear without activation (towers: out=1). With no hidden layer and no
    ``out`` the bank is the identity (the input is broadcast to [n, B, d_in]).
    forward(x [B, d_in] or [n, B, d_in]) -> [n, B, out_dim]
    """

    def __init__(self, n: int, d_in: int, hidden: list[int] | tuple[int, ...], dropout: float = 0.0, out: int | None = None):
        super().__init__()
        self.n = n
        sizes = [d_in, *hidden] + ([out] if out else [])
        self.layers = nn.ModuleList(LinearBank(n, a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.n_activated = len(hidden)
        self.dropout = dropout
        self.out_dim = sizes[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.layers:
            return x.expand(self.n, *x.shape) if x.dim() == 2 else x
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < self.n_activated:
                x = F.relu(x)
                if self.dropout > 0:
                    x = F.dropout(x, self.dropout, self.training)
        return x


class Towers(nn.Module):
    """K task towers ``MLP[tower_hidden] → Linear(·, 1)`` as one bank.

    forward(h [K, B, d] or [B, d]) -> [B, K]
    """

    def __init__(self, n_tasks: int, d_in: int, hidden: list[int] | tuple[int, ...], dropout: float = 0.0):
        super().__init__()
        self.bank = MLPBank(n_tasks, d_in, hidden, dropout, out=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.bank(h).squeeze(-1).transpose(0, 1)  # [K, B, 1] -> [B, K]


class Gates(nn.Module):
    """G gates, each ``softmax(Linear(selector))`` over the ``n_experts`` it mixes (with bias).

    forward(sel [B, d] or [G, B, d]) -> weights [G, B, n_experts], non-negative, summing to 1.
    The last weights are kept (detached) in ``self.last`` for the expert-utilisation report.
    """

    def __init__(self, n_gates: int, d_in: int, n_experts: int):
        super().__init__()
        self.linear = LinearBank(n_gates, d_in, n_experts)
        self.last: torch.Tensor | None = None

    def forward(self, sel: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.linear(sel), dim=-1)
        self.last = w.detach()
        return w


def mix(weights: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
    """Gate mixing: weights [G, B, E] over experts [E, B, d] -> [G, B, d] (Σ_e w_ge · expert_e)."""
    return torch.einsum("gbe,ebd->gbd", weights, experts)


def mix_subsets(weights: torch.Tensor, experts: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Gate g mixes only experts ``index[g]``: weights [G, B, E_g], experts [E, B, d], index [G, E_g]
    -> [G, B, d]. (CGC/PLE: a task gate sees its own and the shared experts.)"""
    chosen = experts[index]  # [G, E_g, B, d]
    return torch.einsum("gbe,gebd->gbd", weights, chosen)
