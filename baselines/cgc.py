"""`cgc`: Customized Gate Control, one PLE extraction level (PLE paper, Section 4; docs/protocol.md §1).

Per task m task-specific experts plus m_s shared experts, all reading x. Task k's gate
``g_k = softmax(W_k x + b_k)`` mixes only its own and the shared experts:
``y_k = tower_k(Σ g_k · [E_k ; E_s])``. Implemented as `ple` with one level (no shared gate), so the two
give the same output for the same parameters. Gate weights: ``gate_weights()["levels.0.task_gates"]``
[K, B, m + m_s].

Deviation from docs/protocol.md §1: the same m for every task (see `ple`).
"""
from __future__ import annotations

from dataclasses import dataclass

from mtlbench.baselines.ple import PLE, sample_extraction
from mtlbench.model import Trial, positive, register_model


@dataclass(frozen=True)
class CGCConfig:
    specific_experts: int = 2  # m: task-specific experts per task
    shared_experts: int = 2  # m_s
    expert: tuple[int, ...] = (64, 32)
    tower: tuple[int, ...] = (32,)

    def __post_init__(self) -> None:
        positive("specific_experts", self.specific_experts)
        positive("shared_experts", self.shared_experts)
        positive("expert layers", len(self.expert))
        for h in (*self.expert, *self.tower):
            positive("layer width", h)

    @property
    def levels(self) -> int:  # CGC is PLE with one extraction level
        return 1


@register_model("cgc")
class CGC(PLE):
    Config = CGCConfig

    @classmethod
    def search_space(cls, trial: Trial, n_tasks: int) -> CGCConfig:
        return cls.Config(**sample_extraction(trial))
