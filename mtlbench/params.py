"""Where a run's hyper-parameters come from: the model's defaults, or tuned ones."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .data import SuiteData
from .model import SharedConfig, make_config
from .profiles import Profile
from .train import TrainConfig


@dataclass(frozen=True)
class RunParams:
    model: Any  # the model's Config dataclass
    shared: SharedConfig
    train: TrainConfig
    source: str  # "default", "study:<name>#<trial>", "file:<path>"

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": dataclasses.asdict(self.model),
            "shared": dataclasses.asdict(self.shared),
            "train": dataclasses.asdict(self.train),
        }


def default_params(model: str, data: SuiteData, profile: Profile) -> RunParams:
    return RunParams(
        model=make_config(model),
        shared=SharedConfig(emb_dim=data.emb_dim),
        train=TrainConfig(max_epochs=profile.max_epochs, patience=profile.patience),
        source="default",
    )


def params_from_dict(model: str, data: SuiteData, profile: Profile, d: dict[str, Any], source: str) -> RunParams:
    """Build RunParams from ``{"model": {...}, "shared": {...}, "train": {...}}`` (missing keys: defaults).
    The epoch cap and patience always come from the profile, so every model has the same budget."""
    base = default_params(model, data, profile)
    train = {**dataclasses.asdict(base.train), **d.get("train", {})}
    train.update(max_epochs=profile.max_epochs, patience=profile.patience)
    for key in ("loss_weights", "loss_decays"):
        train[key] = tuple(train[key])
    return RunParams(
        model=make_config(model, d.get("model", {})),
        shared=SharedConfig(**{**dataclasses.asdict(base.shared), **d.get("shared", {})}),
        train=TrainConfig(**train),
        source=source,
    )
