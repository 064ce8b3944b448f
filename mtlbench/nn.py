"""Shared building blocks. Every model in ``baselines/`` is assembled from these.

Layout convention: a *bank* of n same-shape networks keeps its members on the leading axis,
activations are [n, B, d]. A bank's layer is one batched matmul over weights stacked
[n, d_in, d_out] — never a Python loop over members (experts, towers, gates, task columns).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .data import InputSpec


class Encoder(nn.Module):
    """docs/protocol.md §0: per-field embeddings (dim e) of the categorical fields, concatenated with the
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
            B, N = x.shape[0], self.n * self.d_out
            if N < 16:  # narrow (gates): column-major W, forward and weight gradient ~3x faster (CPU BLAS)
                w = self.weight.permute(0, 2, 1).reshape(N, self.d_in).t()  # [d_in, N]
            else:
                w = self.weight.permute(1, 0, 2).reshape(self.d_in, N)  # [d_in, N]
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
        return self.after_first(self.layers[0](x))

    def after_first(self, z: torch.Tensor) -> torch.Tensor:
        """The bank's output from its first layer's output z [n, B, d_1] (computed by ``layers[0]`` or by
        ``shared_input_linear`` together with other banks): activation, dropout and the remaining layers."""
        for i, layer in enumerate(self.layers):
            if i > 0:
                z = layer(z)
            if i < self.n_activated:
                z = F.relu(z)
                if self.dropout > 0:
                    z = F.dropout(z, self.dropout, self.training)
        return z


class Towers(nn.Module):
    """K task towers ``MLP[tower_hidden] → Linear(·, 1)`` as one bank.

    forward(h [K, B, d] or [B, d]) -> [B, K]
    """

    def __init__(self, n_tasks: int, d_in: int, hidden: list[int] | tuple[int, ...], dropout: float = 0.0):
        super().__init__()
        self.bank = MLPBank(n_tasks, d_in, hidden, dropout, out=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.bank(h).squeeze(-1).transpose(0, 1)  # [K, B, 1] -> [B, K]


@dataclass(frozen=True)
class GateLabels:
    """How the expert-utilisation report names one gate bank (weights [G, B, E], ``MTLModel.gate_weights``).

    ``title``: the heatmap's title; ``level``: the 1-based level of the model the bank belongs to (banks are
    read by level); ``rows``: one label per gate (G); ``cols``: the experts the heatmap shows. Without
    ``index``, gate g's weight j is on expert ``cols[j]`` (E = len(cols)); with it (a gate that mixes a subset
    of the level's experts, as CGC/PLE task gates do), on ``cols[index[g][j]]`` ([G, E] indices), so that
    every row spans all experts of the level.
    """

    title: str
    level: int
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    index: tuple[tuple[int, ...], ...] | None = None

    def fields(self) -> dict[str, object]:
        """The labels as a utilisation export stores them (``index`` is applied to the numbers, not stored)."""
        return {"title": self.title, "level": self.level, "rows": list(self.rows), "cols": list(self.cols)}


class Gates(nn.Module):
    """G gates, each ``softmax(Linear(selector))`` over the ``n_experts`` it mixes (with bias).

    forward(sel [B, d] or [G, B, d]) -> weights [G, B, n_experts], non-negative, summing to 1.
    The last weights are kept (detached) in ``self.last`` for the expert-utilisation report.
    """

    def __init__(self, n_gates: int, d_in: int, n_experts: int):
        super().__init__()
        self.linear = LinearBank(n_gates, d_in, n_experts)
        self.last: torch.Tensor | None = None

    @property
    def n_gates(self) -> int:
        return self.linear.n

    @property
    def n_experts(self) -> int:
        return self.linear.d_out

    def forward(self, sel: torch.Tensor) -> torch.Tensor:
        return self.from_logits(self.linear(sel))

    def from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """The weights from ``self.linear``'s output [G, B, n_experts] (computed by ``shared_input_linear``
        together with other banks); kept in ``self.last`` as ``forward`` does."""
        w = torch.softmax(logits, dim=-1)
        self.last = w.detach()
        return w


def shared_input_linear(x: torch.Tensor, banks: list[LinearBank]) -> list[torch.Tensor]:
    """Several banks (with bias) that read the same x [B, d_in] — e.g. an expert bank's first layer and every
    gate reading x — as one GEMM: ``x @ [W_1 | W_2 | …] + [b_1 | b_2 | …]`` -> each bank's ``bank(x)``
    [n_i, B, d_out_i] (views of one [B, Σ n_i·d_out_i] result). The parameters stay the banks' own.

    Each output element is the same dot product plus bias as ``bank(x)`` computes; float32 results may differ
    in the last bits (BLAS blocking of a wider product, the bias added inside the GEMM).
    """
    B = x.shape[0]
    w = torch.cat([m for bank in banks for m in bank.weight.unbind(0)], dim=1)  # [d_in, Σ n_i·d_out_i]: one copy
    bias = torch.cat([bank.bias.reshape(-1) for bank in banks])  # [Σ n_i·d_out_i]
    z = torch.addmm(bias, x, w)  # [B, Σ n_i·d_out_i]
    # split, not slicing: its backward concatenates the parts' gradients once (a slice's backward zero-fills [B, Σ])
    parts = z.split([bank.n * bank.d_out for bank in banks], dim=1)
    return [p.view(B, bank.n, bank.d_out).transpose(0, 1) for p, bank in zip(parts, banks)]  # [n_i, B, d_out_i]


def mix(weights: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
    """Gate mixing: weights [G, B, E] over experts [E, B, d] -> [G, B, d] (Σ_e w_ge · expert_e)."""
    return torch.einsum("gbe,ebd->gbd", weights, experts)


def mix_subsets(weights: torch.Tensor, experts: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Gate g mixes only experts ``index[g]``: weights [G, B, E_g], experts [E, B, d], index [G, E_g]
    -> [G, B, d]. (CGC/PLE: a task gate sees its own and the shared experts.)

    Computed as ``mix`` with the weights scattered into [G, B, E] (0 for experts a gate does not see):
    one batched product, no gathered copy of the experts (whose backward, an accumulating index_put,
    made PLE's step 1.5x slower on CPU; benchmarks/throughput.py). The zeros add nothing to the sums."""
    G, Eg = index.shape
    dense = weights.new_zeros(G, weights.shape[1], experts.shape[0])  # [G, B, E]
    dense = dense.scatter(2, index.unsqueeze(1).expand(G, weights.shape[1], Eg), weights)
    return mix(dense, experts)


# ------------------------------------------------------------------ blocks shared by several models


class ConcatLinearBank(nn.Module):
    """n Linear layers; member i reads the concatenation of the inputs listed in ``sources[i]``
    (indices into the leading axis of its input; lists may differ in length). asymmetric's towers read
    ``[h_k ; h_j for j in uses[k]]`` this way without padding (no dead parameters).

    Computed as one batched matmul over the (member, source) blocks of each member's weight, then summed
    per member: ``W_i [h_a ; h_b] = W_i,a h_a + W_i,b h_b``. Initialised like ``nn.Linear`` with fan-in
    ``d_in · len(sources[i])``.
    forward(h [m, B, d_in]) -> [n, B, d_out]
    """

    def __init__(self, sources: list[list[int]] | tuple[tuple[int, ...], ...], d_in: int, d_out: int):
        super().__init__()
        n = len(sources)
        pairs = [(i, s) for i, src in enumerate(sources) for s in src]  # block p = (member, source)
        assign = torch.zeros(n, len(pairs))
        for p, (i, _) in enumerate(pairs):
            assign[i, p] = 1.0
        self.register_buffer("src", torch.tensor([s for _, s in pairs], dtype=torch.long), persistent=False)
        self.register_buffer("assign", assign, persistent=False)  # [n, P]: block p belongs to member i
        self.weight = nn.Parameter(torch.empty(len(pairs), d_in, d_out))  # [P, d_in, d_out]
        self.bias = nn.Parameter(torch.empty(n, 1, d_out))  # [n, 1, d_out]
        with torch.no_grad():
            for p, (i, _) in enumerate(pairs):
                bound = 1.0 / math.sqrt(d_in * len(sources[i]))
                self.weight[p].uniform_(-bound, bound)
            for i, src in enumerate(sources):
                self.bias[i].uniform_(-1.0 / math.sqrt(d_in * len(src)), 1.0 / math.sqrt(d_in * len(src)))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        blocks = torch.bmm(h[self.src], self.weight)  # [P, B, d_out]
        return torch.einsum("np,pbd->nbd", self.assign, blocks) + self.bias  # [n, B, d_out]


class Stitch(nn.Module):
    """A cross-stitch / sluice unit (docs/protocol.md §1): K columns' outputs [K, B, w], each split into S equal
    subspaces (unit k·S + s = subspace s of column k), mixed by one learned α ∈ R^{KS×KS}:
    ``unit_i ← Σ_j α_ij unit_j``. Initialised ``α_ii = a``, ``α_ij = (1 − a)/(KS − 1)``.

    forward(h [K, B, w]) -> [K, B, w]
    """

    def __init__(self, n_columns: int, subspaces: int = 1, a: float = 0.9):
        super().__init__()
        self.K, self.S = n_columns, subspaces
        n = n_columns * subspaces
        off = (1.0 - a) / (n - 1) if n > 1 else 0.0
        self.alpha = nn.Parameter(torch.full((n, n), off) + (a - off) * torch.eye(n))  # [KS, KS]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        K, B, w = h.shape
        S = self.S
        units = h.reshape(K, B, S, w // S).transpose(1, 2).reshape(K * S, B, w // S)  # [KS, B, w/S]
        mixed = torch.einsum("ij,jbc->ibc", self.alpha, units)  # [KS, B, w/S]
        return mixed.reshape(K, S, B, w // S).transpose(1, 2).reshape(K, B, w)


class StitchedColumns(nn.Module):
    """K task columns of ``layers`` layers ``Linear → ReLU (→ Dropout)`` of one width, with a
    :class:`Stitch` unit after every layer; the next layer reads the stitched output (cross_stitch with
    S = 1, sluice with S subspaces). The first layer of every column reads the shared x.

    forward(x [B, d_in]) -> post-stitch outputs of every layer [L, K, B, width]. The pre-stitch outputs of
    the last forward are kept in ``self.pre`` ([L, K, B, width], not detached) for sluice's penalty.
    """

    def __init__(self, n_columns: int, d_in: int, width: int, layers: int, subspaces: int = 1, a: float = 0.9, dropout: float = 0.0):
        super().__init__()
        self.layers = nn.ModuleList(LinearBank(n_columns, d_in if l == 0 else width, width) for l in range(layers))
        self.stitches = nn.ModuleList(Stitch(n_columns, subspaces, a) for _ in range(layers))
        self.dropout = dropout
        self.pre: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, pre, post = x, [], []
        for layer, stitch in zip(self.layers, self.stitches):
            h = F.relu(layer(h))  # [K, B, w]
            if self.dropout > 0:
                h = F.dropout(h, self.dropout, self.training)
            pre.append(h)
            h = stitch(h)  # [K, B, w]
            post.append(h)
        self.pre = torch.stack(pre)
        return torch.stack(post)  # [L, K, B, w]


class ExtractionLevel(nn.Module):
    """One CGC / PLE extraction level (PLE paper, Section 4; docs/protocol.md §1 cgc, ple), all experts in one bank.

    Task k owns experts ``k·m .. k·m + m − 1``; the last ``m_s`` experts are shared. Task-k experts read
    q_k, shared experts read q_s. Task gate k (selector q_k) mixes its own m and the m_s shared experts
    -> q_k'. With ``shared_gate`` the shared gate (selector q_s) mixes ALL K·m + m_s experts -> q_s'.
    Gates: softmax(Linear with bias).
    forward(q): x [B, d_in] (first level: q_1 = … = q_K = q_s = x) or [K+1, B, d_in] (q_1..q_K, q_s)
      -> [K+1, B, d_out] (q_1'..q_K', q_s') with ``shared_gate``, else [K, B, d_out].
    """

    def __init__(self, n_tasks: int, d_in: int, specific: int, shared: int, hidden: list[int] | tuple[int, ...],
                 dropout: float = 0.0, shared_gate: bool = True):
        super().__init__()
        K, m = n_tasks, specific
        self.n_tasks, self.n_specific, self.n_shared = K, m, shared  # experts per task, shared experts
        self.experts = MLPBank(K * m + shared, d_in, hidden, dropout)
        self.out_dim = self.experts.out_dim
        self.task_gates = Gates(K, d_in, m + shared)
        self.shared_gate = Gates(1, d_in, K * m + shared) if shared_gate else None
        index = [[k * m + i for i in range(m)] + [K * m + j for j in range(shared)] for k in range(K)]
        self.register_buffer("index", torch.tensor(index, dtype=torch.long), persistent=False)  # [K, m + m_s]
        source = [k for k in range(K) for _ in range(m)] + [K] * shared  # expert -> row of q it reads
        self.register_buffer("source", torch.tensor(source, dtype=torch.long), persistent=False)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        if q.dim() == 2:  # first level: every expert and gate reads x [B, d]: their first layers are one GEMM
            gates = [self.task_gates] + ([self.shared_gate] if self.shared_gate is not None else [])
            z = shared_input_linear(q, [self.experts.layers[0]] + [g.linear for g in gates])
            experts = self.experts.after_first(z[0])  # [E, B, d_out]
            weights = [g.from_logits(logits) for g, logits in zip(gates, z[1:])]
        else:
            experts = self.experts(q.index_select(0, self.source))  # [E, B, d_out] (backward: index_add, not index_put)
            weights = [self.task_gates(q[: self.n_tasks])]
            if self.shared_gate is not None:
                weights.append(self.shared_gate(q[self.n_tasks]))
        out = mix_subsets(weights[0], experts, self.index)  # [K, B, d_out]
        if self.shared_gate is None:
            return out
        return torch.cat([out, mix(weights[1], experts)])  # [K+1, B, d_out]

    def gate_labels(self, tasks: tuple[str, ...], level: int) -> dict[str, GateLabels]:
        """Labels of ``task_gates`` and ``shared_gate`` (keys: those attribute names) at 1-based ``level``
        for tasks named ``tasks``; every row spans the K·m + m_s experts of the level."""
        m = self.n_specific
        cols = tuple(f"{tasks[k]} expert {i + 1}" for k in range(self.n_tasks) for i in range(m)) + tuple(
            f"shared expert {j + 1}" for j in range(self.n_shared))
        labels = {"task_gates": GateLabels(f"level {level}: task gates", level, tuple(tasks), cols,
                                           tuple(tuple(row) for row in self.index.tolist()))}
        if self.shared_gate is not None:
            labels["shared_gate"] = GateLabels(f"level {level}: shared gate", level, ("shared",), cols)
        return labels
