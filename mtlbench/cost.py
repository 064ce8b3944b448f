"""Model cost: parameter count and FLOPs per sample, counted with torch's FLOP counter."""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from .data import Split
from .model import MTLModel


def count_params(model: MTLModel) -> int:
    return sum(p.numel() for p in model.parameters())


def dense_params(model: torch.nn.Module) -> int:
    """Parameters outside embedding tables (the tables' size is fixed by the suite and emb_dim)."""
    emb = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters(recurse=False))
    return sum(p.numel() for p in model.parameters()) - emb


def flops_per_sample(model: MTLModel, split: Split, n: int = 64, backward: bool = False) -> float:
    """Forward FLOPs per sample (or forward + backward with ``backward``) on ``n`` samples of ``split``."""
    batch = split.head(n)
    device = next(model.parameters()).device
    was_training = model.training
    model.train(backward)
    with FlopCounterMode(display=False) as counter:
        if backward:
            model(batch.x_num.to(device), batch.x_cat.to(device)).sum().backward()
        else:
            with torch.no_grad():
                model(batch.x_num.to(device), batch.x_cat.to(device))
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return counter.get_total_flops() / len(batch)
