"""`omoe`: one-gate mixture of experts, the MMoE paper's other baseline (docs/protocol.md §1, optional).

As `mmoe`, but one gate ``g = softmax(W x + b)`` is shared by all tasks: ``y_k = tower_k(Σ_i g_i e_i)``.
Gate weights: ``gate_weights()["gates"]`` [1, B, E].
"""
from __future__ import annotations

from mtlbench.baselines.mmoe import MMoE
from mtlbench.model import register_model


@register_model("omoe")
class OMoE(MMoE):
    one_gate = True
