"""Where a run's hyper-parameters come from: the model's defaults, or tuned ones."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .data import SuiteData
from .errors import MtlbenchError
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
        train=TrainConfig(max_epochs=profile.max_epochs, patience=profile.patience, batch_size=profile.batch_size),
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


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["n_experts=4", "lr=1e-3", "bottom=[64,32]"]`` -> dict (values read as JSON, else as text)."""
    import json

    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise MtlbenchError(f"cannot read --set {item!r}; write --set name=value, e.g. --set lr=0.001.")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def apply_overrides(model: str, rp: RunParams, overrides: dict[str, Any] | None) -> RunParams:
    """Set named hyper-parameters on whichever config owns them (model, shared or train)."""
    if not overrides:
        return rp
    parts = {"model": rp.model, "shared": rp.shared, "train": rp.train}
    updates: dict[str, dict[str, Any]] = {p: {} for p in parts}
    for k, v in overrides.items():
        owner = next((p for p, c in parts.items() if k in {f.name for f in dataclasses.fields(c)}), None)
        if owner is None:
            known = sorted(f.name for c in parts.values() for f in dataclasses.fields(c))
            raise MtlbenchError(f"model {model!r} has no hyper-parameter {k!r}; settable names are: {', '.join(known)}.")
        updates[owner][k] = tuple(v) if isinstance(v, list) else v
    try:
        new = {p: dataclasses.replace(c, **updates[p]) for p, c in parts.items()}
    except TypeError as err:
        raise MtlbenchError(f"invalid --set value for model {model!r}: {err}") from None
    tag = ",".join(f"{k}={v}" for k, v in sorted(overrides.items()))
    return RunParams(new["model"], new["shared"], new["train"], f"{rp.source}+set:{tag}")
