"""The model interface every architecture in ``baselines/`` implements, and the model registry."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch
from torch import nn

from .data import InputSpec, TaskSpec
from .errors import MtlbenchError
from .registry import Registry

if TYPE_CHECKING:
    from .nn import GateLabels


@dataclass(frozen=True)
class SharedConfig:
    """Hyper-parameters every model takes, owned by the core's search space (not a model's)."""

    emb_dim: int = 8  # embedding size per categorical field
    dropout: float = 0.0


class Trial(Protocol):
    """The part of ``optuna.Trial`` a search space uses (model files never import optuna)."""

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...
    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False) -> float: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


class MTLModel(nn.Module):
    """Base class. A model owns its encoder and maps features to K outputs.

    Subclasses set ``Config`` (a frozen dataclass of their own hyper-parameters with paper-like
    defaults), implement ``forward``, and declare their search space in ``search_space``.
    """

    Config: ClassVar[type] = type(None)
    #: True when no parameter is shared between tasks (single_task). Then every parameter carries a
    #: leading task axis [K, ...], and the trainer early-stops and restores each task on its own.
    independent_tasks: ClassVar[bool] = False
    #: What a suite must provide for the model to run on it (``skip_reason``): None (any suite) or "funnel"
    #: (a binary task declared ``TaskSpec.after`` another: a conversion observed only after a click).
    requires: ClassVar[str | None] = None

    def __init__(self, inputs: InputSpec, tasks: tuple[TaskSpec, ...], cfg: Any, shared: SharedConfig):
        super().__init__()
        self.inputs, self.tasks, self.cfg, self.shared = inputs, tuple(tasks), cfg, shared
        self.n_tasks = len(tasks)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:  # -> [B, K]
        raise NotImplementedError

    def aux_loss(self) -> torch.Tensor:
        """Auxiliary loss added to the task losses (docs/protocol.md §2); computed from the last forward."""
        return torch.zeros((), device=next(self.parameters()).device)

    def loss_view(self, out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The (outputs, labels, masks) [B, K] the masked loss of docs/protocol.md §2 is applied to in training.

        Default: the model's outputs on each task's own sample space. A model may train a task on other
        terms (ESMM and AITM: a funnel step as the joint probability over its predecessor's sample space,
        ``mtlbench.entire_space``). Validation and test always score ``forward``'s outputs on the suite's masks.
        """
        return out, y, mask

    def task_losses(self, out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, is_binary: torch.Tensor) -> torch.Tensor:
        """Per-task training losses [K]: the masked loss on ``loss_view`` (what a trainer calls each step)."""
        from .loss import masked_task_losses

        return masked_task_losses(*self.loss_view(out, y, mask), is_binary)

    def gate_weights(self) -> dict[str, torch.Tensor]:
        """Gate weights of the last forward pass, by gate-bank name: [n_gates, B, n_experts]."""
        from .nn import Gates

        return {name: m.last for name, m in self.named_modules() if isinstance(m, Gates) and m.last is not None}

    def gate_labels(self) -> dict[str, GateLabels]:
        """Labels of every gate bank ``gate_weights`` returns, by the same names (the expert-utilisation report's
        titles and axes). Needs no forward pass.

        Default, for a bank of G gates over E experts: rows are the task names when G = K (title "task gates"),
        "all tasks" when one gate serves every task, else "gate i" (title: the bank's name); columns "expert j";
        level 1. A model whose gates mix other things (experts of a level, a subset of them) overrides this.
        """
        from .nn import Gates, GateLabels

        tasks = tuple(t.name for t in self.tasks)
        labels = {}
        for name, g in self.named_modules():
            if not isinstance(g, Gates):
                continue
            G = g.n_gates
            rows = tasks if G == len(tasks) else ("all tasks",) if G == 1 else tuple(f"gate {i + 1}" for i in range(G))
            labels[name] = GateLabels("task gates" if rows == tasks else name, 1, rows,
                                      tuple(f"expert {j + 1}" for j in range(g.n_experts)))
        return labels

    @classmethod
    def search_space(cls, trial: Trial, n_tasks: int) -> Any:
        """Sample this model's own hyper-parameters (define-by-run). Default: nothing to tune."""
        return cls.Config()

    #: Config fields holding the widths of the model's body (tuples of layer widths, or one int width): what
    #: ``mtlbench.matching`` scales so that every model's default has the same parameter count on a suite.
    #: Towers are not scaled. Empty: the model's defaults are used as they are.
    width_fields: ClassVar[tuple[str, ...]] = ()
    #: Multiple that every scaled width must be (e.g. sluice's width is split into subspaces).
    width_multiple: ClassVar[int] = 2

    @classmethod
    def depth(cls, cfg: Any) -> int:
        """Hidden layers on the path from the encoder's output to a task's output, towers included."""
        raise NotImplementedError(f"{cls.__name__} does not state its depth")


MODELS: Registry[type[MTLModel]] = Registry("model", "mtlbench.baselines")
register_model = MODELS.register


def list_models(pattern: str | None = None) -> list[str]:
    return MODELS.names(pattern)


def get_model_class(name: str) -> type[MTLModel]:
    return MODELS.get(name)


def make_config(model: str, overrides: dict[str, Any] | None = None) -> Any:
    """The model's Config with ``overrides`` applied; unknown or invalid values are one-line errors."""
    cls = get_model_class(model).Config
    overrides = dict(overrides or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise MtlbenchError(
            f"model {model!r} has no hyper-parameter {unknown[0]!r}; its hyper-parameters are: {', '.join(sorted(names)) or 'none'}."
        )
    for f in dataclasses.fields(cls):  # lists arrive as lists from JSON; configs keep tuples
        if f.name in overrides and isinstance(overrides[f.name], list):
            overrides[f.name] = tuple(tuple(v) if isinstance(v, list) else v for v in overrides[f.name])
    try:
        return cls(**overrides)
    except (TypeError, ValueError) as err:
        raise MtlbenchError(f"invalid hyper-parameters for model {model!r}: {err}") from None


def skip_reason(model: str, tasks: tuple[TaskSpec, ...]) -> str | None:
    """Why ``model`` does not run on a suite with these tasks, in one line; None when it runs.

    The one rule ``run`` (``--all`` included) applies: a model that ``requires = "funnel"`` runs only on a
    suite with a funnel step (a task declared ``TaskSpec.after`` another).
    """
    need = get_model_class(model).requires
    if need is None:
        return None
    if need == "funnel":
        if any(t.after for t in tasks):
            return None
        return f"{model} models a click→conversion funnel; this suite declares no task observed only after another (TaskSpec.after)"
    raise ValueError(f"model {model!r} requires unknown suite property {need!r}")


def build_model(model: str, inputs: InputSpec, tasks: tuple[TaskSpec, ...], cfg: Any, shared: SharedConfig) -> MTLModel:
    return get_model_class(model)(inputs, tasks, cfg, shared)


def positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Validation helper for Config ``__post_init__``: raises a one-line error on out-of-range values."""
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise MtlbenchError(f"hyper-parameter {name}={value} is out of range; it must be {bound}.")
