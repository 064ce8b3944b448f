"""`esmm`: Entire Space Multi-task Model (Ma et al., SIGIR 2018).

One embedding layer shared by all tasks; task k has its own network ``MLP[hidden] → Linear(·, 1)`` (the K
networks are one bank). ``y_k = net_k(x)``: for a funnel step (``TaskSpec.after``, e.g. ``cvr`` after
``ctr``) the output is the logit of the *conditional* probability (pCVR = P(conversion | click)), as for
every model, and that is what the suite's metric scores on clicked impressions.

Training (``loss_view`` = ``mtlbench.entire_space.entire_space_view``): the masked loss of docs/protocol.md §2 is
applied to pCTR on every impression and, for the funnel step, to pCTCVR = pCTR × pCVR on every impression
(label click·conversion) instead of pCVR on clicks: the paper's loss
``L = Σ_i l(y_i, pCTR_i) + Σ_i l(y_i·z_i, pCTR_i·pCVR_i)`` with each term averaged over its sample space.
pCVR is thus never fitted on the clicked sample alone, which removes the sample-selection bias the paper
addresses. On a suite without a funnel step the view is the identity (the model is K networks on shared
embeddings), but ``run`` skips it there (``requires = "funnel"``, ``mtlbench.model.skip_reason``).

Defaults: three hidden layers per network, as in the paper, at 256-128-64: the paper's 360-200-80 exceeds
the suites' parameter budget (``mtlbench.tuning.param_budget``); ``run``'s defaults are matched in size to the
reference anyway (``mtlbench.matching``). The paper's embedding size 18 is the suite's ``emb_dim`` here.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from mtlbench.entire_space import entire_space_view
from mtlbench.model import MTLModel, Trial, positive, register_model
from mtlbench.nn import Encoder, Towers


@dataclass(frozen=True)
class ESMMConfig:
    hidden: tuple[int, ...] = (256, 128, 64)  # every task network's hidden widths (then Linear(·, 1))

    def __post_init__(self) -> None:
        positive("hidden layers", len(self.hidden))
        for h in self.hidden:
            positive("layer width", h)


@register_model("esmm")
class ESMM(MTLModel):
    Config = ESMMConfig
    requires = "funnel"
    width_fields = ("hidden",)

    @classmethod
    def depth(cls, cfg) -> int:
        return len(cfg.hidden)

    def __init__(self, inputs, tasks, cfg: ESMMConfig, shared):
        super().__init__(inputs, tasks, cfg, shared)
        self.encoder = Encoder(inputs, shared.emb_dim)  # the shared embedding lookup
        self.nets = Towers(self.n_tasks, self.encoder.out_dim, cfg.hidden, shared.dropout)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return self.nets(self.encoder(x_num, x_cat))  # [B, d] -> [B, K]

    def loss_view(self, out, y, mask):
        return entire_space_view(self.tasks, out, y, mask)

    @classmethod
    def search_space(cls, trial: Trial, n_tasks: int) -> ESMMConfig:
        layers = trial.suggest_int("hidden_layers", 2, 3)
        width = trial.suggest_categorical("hidden_width", [64, 128, 256, 512])
        return ESMMConfig(hidden=tuple(max(width >> i, 8) for i in range(layers)))
