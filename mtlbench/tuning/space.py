"""The search space of a study (docs/protocol.md §2): the core space shared by every model plus the model's own
``search_space(trial, n_tasks)`` plus, in a study of a loss weighting, the strategy's own ``search_space(trial)``
(define-by-run, declared next to the strategy; nothing for a strategy without hyper-parameters). A parameter
name belongs to one space only."""
from __future__ import annotations

import dataclasses
from typing import Any

from ..data import SuiteData
from ..errors import MtlbenchError
from ..model import get_model_class
from ..params import RunParams, params_from_dict
from ..profiles import Profile
from ..provenance import STATIC_WEIGHTING, ParamsSource
from ..weighting import get_weighting

#: Core search space: parameter names and what they set (names ``loss_weight_<k>``, ``loss_decay_<k>``
#: are 1-based task numbers).
BATCH_SIZES = (256, 512, 1024, 2048)
LR_RANGE = (1e-4, 3e-2)
WEIGHT_DECAY_RANGE = (1e-8, 1e-3)
DROPOUT_RANGE = (0.0, 0.3)
LOSS_WEIGHT_RANGE = (0.2, 5.0)
LOSS_DECAY_RANGE = (0.9, 1.1)


class _SpaceTrial:
    """Forwards ``suggest_*`` to the optuna trial and records which space owns each parameter name,
    so a model's space can never silently share (and fight over) a core parameter."""

    def __init__(self, trial: Any, owner: str, owners: dict[str, str]):
        self._trial, self._owner, self._owners = trial, owner, owners

    def _claim(self, name: str) -> None:
        prev = self._owners.setdefault(name, self._owner)
        if prev != self._owner:
            raise MtlbenchError(
                f"search-space parameter {name!r} is declared by both the {prev} space and the {self._owner} space; "
                "rename it in the model's or weighting's search_space (core names: lr, batch_size, weight_decay, dropout, loss_weight_k, loss_decay_k)."
            )

    def suggest_int(self, name: str, low: int, high: int, **kw: Any) -> int:
        self._claim(name)
        return self._trial.suggest_int(name, low, high, **kw)

    def suggest_float(self, name: str, low: float, high: float, **kw: Any) -> float:
        self._claim(name)
        return self._trial.suggest_float(name, low, high, **kw)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self._claim(name)
        return self._trial.suggest_categorical(name, choices)

    def __getattr__(self, name: str) -> Any:  # number, params, user attrs...
        return getattr(self._trial, name)


def core_space(trial: Any, n_tasks: int) -> dict[str, dict[str, Any]]:
    """The shared search space (docs/protocol.md §2): ``{"shared": {...}, "train": {...}}`` overrides."""
    lr = trial.suggest_float("lr", *LR_RANGE, log=True)
    batch_size = trial.suggest_categorical("batch_size", list(BATCH_SIZES))
    weight_decay = trial.suggest_float("weight_decay", *WEIGHT_DECAY_RANGE, log=True)
    dropout = trial.suggest_float("dropout", *DROPOUT_RANGE)
    omega = [1.0] + [trial.suggest_float(f"loss_weight_{k}", *LOSS_WEIGHT_RANGE, log=True) for k in range(2, n_tasks + 1)]
    gamma = [trial.suggest_float(f"loss_decay_{k}", *LOSS_DECAY_RANGE) for k in range(1, n_tasks + 1)]
    return {"shared": {"dropout": dropout},
            "train": {"lr": lr, "batch_size": batch_size, "weight_decay": weight_decay,
                      "loss_weights": omega, "loss_decays": gamma}}


def weighting_space(trial: Any, weighting: str) -> dict[str, Any]:
    """The ``train`` overrides a loss-weighting study samples: the strategy and its own hyper-parameters
    (``weighting_config``, sorted by name; empty for a strategy without any, i.e. its paper's defaults)."""
    cls = get_weighting(weighting)
    cfg = cls.search_space(trial)
    if not isinstance(cfg, cls.Config):
        raise MtlbenchError(f"{cls.__name__}.search_space returned {type(cfg).__name__}, not {cls.Config.__name__}; "
                            "return the strategy's Config.")
    return {"weighting": weighting, "weighting_config": sorted(dataclasses.asdict(cfg).items())}


def sample_params(trial: Any, model: str, data: SuiteData, profile: Profile,
                  source: ParamsSource = ParamsSource.trial(), weighting: str = STATIC_WEIGHTING) -> RunParams:
    """Sample the core space, the model's own space and the loss weighting's own space from ``trial``
    (define-by-run) -> RunParams training with ``weighting``. The training rules (epoch cap, patience,
    validation schedule) come from the profile; the embedding size from the suite."""
    cls = get_model_class(model)
    owners: dict[str, str] = {}
    core = core_space(_SpaceTrial(trial, "core", owners), data.n_tasks)
    cfg = cls.search_space(_SpaceTrial(trial, f"model {model!r}", owners), data.n_tasks)
    if not isinstance(cfg, cls.Config):
        raise MtlbenchError(f"{cls.__name__}.search_space returned {type(cfg).__name__}, not {cls.Config.__name__}; return the model's Config.")
    if weighting != STATIC_WEIGHTING:
        core["train"].update(weighting_space(_SpaceTrial(trial, f"weighting {weighting!r}", owners), weighting))
    return params_from_dict(model, data, profile, {"model": dataclasses.asdict(cfg), **core}, source)
