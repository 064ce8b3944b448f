"""Run profiles: how much data, how many epochs and seeds. Output of each profile is kept apart."""
from __future__ import annotations

from dataclasses import dataclass

from .registry import did_you_mean


@dataclass(frozen=True)
class Profile:
    """How much data, training and repetition a run gets. The training rules (docs/protocol.md §2):
    validation every ``eval_samples`` training samples (at least once per epoch), patience counted in
    validations, a score must beat the best by more than ``min_delta``, and an epoch cap per suite family
    (``epoch_caps``, else ``max_epochs``) chosen so that runs stop by patience, not by the cap."""

    name: str
    seeds: int  # seeds per (suite, model) for `mtlbench run`
    max_epochs: int  # epoch cap of a suite family without its own entry in epoch_caps
    patience: int  # validations without improvement before a selection group is frozen
    sweep: tuple[float, ...]  # correlation points of the synthetic sweep
    description: str
    batch_size: int = 1024  # default batch size (tuning may choose another); quick's small data needs more steps
    eval_samples: int = 0  # validate every this many training samples; 0: once per epoch
    min_delta: float = 0.0  # improvement of the validation score needed to count as better
    epoch_caps: tuple[tuple[str, int], ...] = ()  # (suite family, epoch cap) where it differs from max_epochs

    def epoch_cap(self, family: str) -> int:
        return dict(self.epoch_caps).get(family, self.max_epochs)

    def evals_per_epoch(self, n_train: int) -> int:
        return max(1, round(n_train / self.eval_samples)) if self.eval_samples else 1


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "quick", seeds=2, max_epochs=3, patience=3, sweep=(0.0, 0.5, 1.0), batch_size=256,
            description="row caps, <= 3 epochs, 2 seeds, 3 sweep points: a smoke run of everything in minutes",
        ),
        Profile(
            "standard", seeds=5, max_epochs=40, patience=5,
            sweep=tuple(round(0.2 * i, 1) for i in range(6)),
            eval_samples=100_000, epoch_caps=(("synthetic", 200),),
            description="full data, 5 seeds, validation every 100k samples, patience 5 validations, "
                        "epoch cap 40 (synthetic 200), the correlation sweep p = 0.0, 0.2, ..., 1.0",
        ),
    )
}


#: The profile every command and API function uses when none is given.
DEFAULT_PROFILE = "quick"


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise did_you_mean("profile", name, list(PROFILES))
    return PROFILES[name]
