"""Where a run's hyper-parameters come from: the model's defaults, or tuned ones."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from .data import SuiteData
from .errors import MtlbenchError
from .matching import matched_default
from .model import SharedConfig, make_config
from .profiles import Profile
from .provenance import ParamsSource
from .train import TrainConfig


@dataclass(frozen=True)
class RunParams:
    model: Any  # the model's Config dataclass
    shared: SharedConfig
    train: TrainConfig
    source: ParamsSource  # where the parameters came from: a label, not part of the record key
    #: Task-wise parameters (models with ``independent_tasks`` only): task k's network is trained with
    #: ``per_task[k]``. Then ``model``/``shared``/``train`` repeat task 1's. Empty: one set for all tasks.
    per_task: tuple[RunParams, ...] = ()

    @classmethod
    def task_wise(cls, per_task: tuple[RunParams, ...], source: ParamsSource) -> RunParams:
        """Task k trains with ``per_task[k]`` (each task's own best trial of a single_task study)."""
        first = per_task[0]
        return cls(first.model, first.shared, first.train, source, tuple(per_task))

    def as_dict(self) -> dict[str, Any]:
        train = dataclasses.asdict(self.train)
        if train["weighting"] == "static" and not train["weighting_config"]:
            # the default weighting is left out, so records made before weightings existed keep their keys
            del train["weighting"], train["weighting_config"]
        d = {"model": dataclasses.asdict(self.model), "shared": dataclasses.asdict(self.shared), "train": train}
        if self.per_task:  # part of the record key: it changes when any task's parameters change
            d["per_task"] = [p.as_dict() for p in self.per_task]
        return d

    def fits(self, n_tasks: int) -> list[tuple[RunParams, tuple[int, ...]]]:
        """The trainings a run needs: one per distinct parameter set (identical sets train once), each with
        the tasks that take their results from it, in task order."""
        if not self.per_task:
            return [(self, tuple(range(n_tasks)))]
        if len(self.per_task) != n_tasks:
            raise MtlbenchError(f"task-wise parameters ({self.source}) name {len(self.per_task)} tasks but the suite has {n_tasks}; "
                                "re-run `mtlbench tune` on this suite, or pass --params-from default.")
        groups: dict[str, tuple[RunParams, list[int]]] = {}
        for k, p in enumerate(self.per_task):
            groups.setdefault(json.dumps(p.as_dict(), sort_keys=True), (p, []))[1].append(k)
        return [(p, tuple(ks)) for p, ks in groups.values()]


@dataclass(frozen=True)
class RunTrials:
    """The trial(s) of a study whose parameters `mtlbench run` takes (see ``run_trials``)."""
    numbers: tuple[int, ...]  # () before any trial completed; in task order when task_wise
    task_wise: bool = False  # one trial per task: task k's network trains with trial numbers[k]'s parameters


def run_trials(summary: dict[str, Any]) -> RunTrials:
    """The one rule, shared by ``mtlbench.tuning.StudyParams`` and the report, for which trial(s) of a study
    summary (``mtlbench.tuning.summarize_study``) `mtlbench run` takes: for a model with ``independent_tasks``
    (single_task's K separate networks), each task's own best trial when every task has one; otherwise the
    best trial (``run_trial``)."""
    from .model import get_model_class

    try:
        independent = get_model_class(str(summary.get("model"))).independent_tasks
    except MtlbenchError:
        independent = False
    per_task = [p.get("number") for p in summary.get("per_task_best") or [] if isinstance(p, dict)]
    if (independent and per_task and len(per_task) == len(summary.get("task_names") or [])
            and all(isinstance(n, int) for n in per_task)):
        return RunTrials(tuple(per_task), task_wise=True)
    number = summary.get("run_trial")
    return RunTrials((number,) if isinstance(number, int) else ())


def protocol_params(data: SuiteData, profile: Profile) -> dict[str, Any]:
    """The training rules a profile fixes for every model on a suite (never tuned): epoch cap, patience,
    validation schedule and improvement threshold (docs/protocol.md §2)."""
    return dict(max_epochs=profile.epoch_cap(data.family), patience=profile.patience,
                evals_per_epoch=profile.evals_per_epoch(len(data.train)), min_delta=profile.min_delta)


def default_params(model: str, data: SuiteData, profile: Profile) -> RunParams:
    """The model's default configuration on this suite: the class defaults with body widths scaled so that
    every model has the reference's dense parameter count (``mtlbench.matching``), and the profile's rules."""
    return RunParams(
        model=matched_default(model, data.inputs, data.tasks, data.emb_dim).config,
        shared=SharedConfig(emb_dim=data.emb_dim),
        train=TrainConfig(batch_size=profile.batch_size, **protocol_params(data, profile)),
        source=ParamsSource.default(),
    )


def params_from_dict(model: str, data: SuiteData, profile: Profile, d: dict[str, Any], source: ParamsSource) -> RunParams:
    """Build RunParams from ``{"model": {...}, "shared": {...}, "train": {...}}`` (missing keys: defaults).
    The training rules (``protocol_params``) always come from the profile, so every model has the same budget."""
    if d.get("per_task"):  # a task-wise record: one parameter set per task (task k's part of ``source``)
        per = tuple(params_from_dict(model, data, profile, p, source.for_task(k)) for k, p in enumerate(d["per_task"]))
        return RunParams.task_wise(per, source)
    base = default_params(model, data, profile)
    train = {**dataclasses.asdict(base.train), **d.get("train", {})}
    model_cfg = {**dataclasses.asdict(base.model), **d.get("model", {})}
    train.update(protocol_params(data, profile))
    for key in ("loss_weights", "loss_decays"):
        train[key] = tuple(train[key])
    train["weighting_config"] = tuple(tuple(item) for item in train.get("weighting_config", ()))  # JSON lists
    return RunParams(
        model=make_config(model, model_cfg),
        shared=SharedConfig(**{**dataclasses.asdict(base.shared), **d.get("shared", {})}),
        train=TrainConfig(**train),
        source=source,
    )


def with_weighting(rp: RunParams, weighting: str) -> RunParams:
    """``rp`` trained with loss weighting ``weighting``. Unchanged when it is ``rp``'s own (its hyper-parameters
    kept); otherwise the strategy at its paper defaults, and a study or file source says so
    (``ParamsSource.weighting_at_defaults``: ``study:<static study>#12+weighting:uw``). Task-wise parameters get
    it in every task's set."""
    if rp.train.weighting == weighting:
        return rp
    source = rp.source.with_weighting_at_defaults(weighting) if rp.source.kind in ("study", "file") else rp.source
    train = dataclasses.replace(rp.train, weighting=weighting, weighting_config=())
    parts = tuple(with_weighting(p, weighting) for p in rp.per_task)
    return RunParams(rp.model, rp.shared, train, source, parts)


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
    """Set named hyper-parameters on whichever config owns them (model, shared or train); task-wise
    parameters get them in every task's set."""
    if not overrides:
        return rp
    if rp.per_task:
        return RunParams.task_wise(tuple(apply_overrides(model, p, overrides) for p in rp.per_task),
                                   rp.source.with_overrides(overrides))
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
    return RunParams(new["model"], new["shared"], new["train"], rp.source.with_overrides(overrides))
