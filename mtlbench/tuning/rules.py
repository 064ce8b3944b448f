"""The tuning protocol: what every study gets alike.

* the same number of counted trials (COMPLETE + PRUNED trials that trained), plus one **reference trial**:
  the model's default configuration, trained to the end (never pruned) and not counted;
* the same training rules (the profile's epoch cap, patience and validation schedule) and parameter budget;
* the same pruning for every model, ``single_task`` included (``PRUNING_RULE``): no trial is judged before
  ``min_steps`` validations, the fewest a never-pruned run makes;
* a training seed that is not an evaluation seed of ``mtlbench run`` (``TUNING_SEED``).

Studies made under these rules carry ``protocol`` = ``PROTOCOL`` in their user attributes and summary.
"""
from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from ..data import SuiteData
from ..params import protocol_params
from ..profiles import Profile
from ..train import TrainConfig

#: Version of these rules; studies without it (protocol 1: seed 0, single_task never pruned, pruning from
#: the first epoch) are not continued under them.
PROTOCOL = 2
#: User attribute marking a study's reference trial (the model's default configuration).
REFERENCE = "reference"
REFERENCE_RULE = "plus one reference trial per study: the model's default configuration, never pruned, not counted"
PRUNING_RULE = ("the same for every model (single_task included): the validation score is reported after every "
                "validation and a trial is never judged before min_steps = patience + 1 validations (the fewest a "
                "never-pruned run, like the reference trial, makes); no pruning when that reaches the validation cap")
#: Training seed of every trial: two trials differ only by their hyper-parameters, and `mtlbench run`
#: evaluates on seeds 0, 1, ..., so tuning never selects on an evaluation seed.
TUNING_SEED = 1000
#: Counted trials per study when ``--trials`` is not given.
DEFAULT_TRIALS = {"quick": 4, "standard": 40}
PRUNERS = ("hyperband", "halving", "median", "none")
OBJECTIVE = "val_score = -mean_k log(err_k) on the validation split (docs/protocol.md section 2), maximised"


def max_steps(data: SuiteData, profile: Profile) -> int:
    """The most validations a trial makes (the pruner's last step + 1): the one place that reads it."""
    return TrainConfig(**protocol_params(data, profile)).max_evals


def min_steps(profile: Profile) -> int:
    """Validations a trial makes before it may be pruned (``PRUNING_RULE``)."""
    return profile.patience + 1


def make_pruner(name: str, first: int, last: int) -> optuna.pruners.BasePruner:
    """Pruner ``name`` that may judge a trial first after ``first`` reported values (step index ``first - 1``)
    and sees at most ``last`` of them. Optuna's pruners judge at step index ≥ their min resource / warm-up."""
    if name == "none" or first >= last:
        return optuna.pruners.NopPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, first - 1), max_resource=last - 1, reduction_factor=3)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, first - 1), reduction_factor=3)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=first - 1)
    raise ValueError(name)


def counted(t: FrozenTrial) -> bool:
    """A trial that trained and counts towards the equal budget (not rejected before training, not the reference)."""
    return (t.state in (TrialState.COMPLETE, TrialState.PRUNED) and not t.user_attrs.get("rejected")
            and not t.user_attrs.get(REFERENCE))


def reference_trials(study: optuna.Study, states: tuple[TrialState, ...]) -> list[FrozenTrial]:
    """The study's reference trials in ``states``, a second one queued by a racing worker left out (one over
    the parameter budget is kept: it is done, as far as it can be)."""
    return [t for t in study.get_trials(deepcopy=False, states=states)
            if t.user_attrs.get(REFERENCE) and not str(t.user_attrs.get("rejected", "")).startswith("duplicate")]


def ensure_reference(study: optuna.Study) -> bool:
    """Queue the study's reference trial unless one is queued, training or done (a killed worker's FAIL one is
    queued again). Returns whether the reference is done (COMPLETE, or PRUNED when it diverged)."""
    if reference_trials(study, (TrialState.COMPLETE, TrialState.PRUNED)):
        return True
    if not reference_trials(study, (TrialState.RUNNING, TrialState.WAITING)):
        study.enqueue_trial({}, user_attrs={REFERENCE: "default"})
    return False
