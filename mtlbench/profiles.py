"""Run profiles: how much data, how many epochs and seeds. Output of each profile is kept apart."""
from __future__ import annotations

from dataclasses import dataclass

from .registry import did_you_mean


@dataclass(frozen=True)
class Profile:
    name: str
    seeds: int  # seeds per (suite, model) for `mtlbench run`
    max_epochs: int  # epoch cap; early stopping (patience 3) usually ends sooner
    patience: int
    sweep: tuple[float, ...]  # correlation points of the synthetic sweep
    description: str
    batch_size: int = 1024  # default batch size (tuning may choose another); quick's small data needs more steps


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "quick", seeds=2, max_epochs=3, patience=3, sweep=(0.0, 0.5, 1.0), batch_size=256,
            description="row caps, <= 3 epochs, 2 seeds, 3 sweep points: a smoke run of everything in minutes",
        ),
        Profile(
            "standard", seeds=5, max_epochs=30, patience=3,
            sweep=tuple(round(0.1 * i, 1) for i in range(11)),
            description="full data, 5 seeds, the correlation sweep p = 0.0, 0.1, ..., 1.0",
        ),
    )
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise did_you_mean("profile", name, list(PROFILES))
    return PROFILES[name]
