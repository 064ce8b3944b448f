"""The parameter budget of a suite: one cap on dense parameters, the same for every model, so tuning
compares structures rather than sizes (a trial over it is pruned before training)."""
from __future__ import annotations

from torch import nn

from ..cost import count_params
from ..data import SuiteData
from ..model import SharedConfig, build_model, make_config

#: The parameter budget of a suite = this × the dense parameters of the K default single-task networks.
BUDGET_FACTOR = 4
BUDGET_RULE = (f"{BUDGET_FACTOR} x the dense parameters (all but embedding tables, which the suite fixes) "
               "of single_task's default config on this suite, i.e. of K separate default networks")


def dense_params(model: nn.Module) -> int:
    """Parameters outside embedding tables (the tables' size is fixed by the suite and emb_dim)."""
    emb = sum(p.numel() for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters(recurse=False))
    return count_params(model) - emb


def param_budget(data: SuiteData) -> int:
    """One budget per suite, the same for every model (see ``BUDGET_RULE``)."""
    ref = build_model("single_task", data.inputs, data.tasks, make_config("single_task"), SharedConfig(emb_dim=data.emb_dim))
    return BUDGET_FACTOR * dense_params(ref)
