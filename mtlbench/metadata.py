"""What readers of results (the report) know about the registered models and suites, without importing
them: the model registry and the suite modules import torch, the report must not.

* Models: display order (docs/protocol.md §1) and which models train their tasks independently.
* Suites: a suite family may declare a torch-free sidecar module ``tasks/<family>_meta.py`` holding
  ``META = SuiteMeta(...)`` (sweep axis, the instances ``--all`` runs per profile, published reference
  numbers). A family without one is a single, non-sweep instance with nothing published.

``tests/test_layers.py`` checks this module against the registries, so the two cannot drift apart.
"""
from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from .profiles import Profile

#: Display order of the registered models (docs/protocol.md §1); models not listed follow alphabetically.
MODEL_ORDER = ("single_task", "hard_sharing", "asymmetric", "customized", "cross_stitch", "sluice",
               "mmoe", "omoe", "ml_mmoe", "cgc", "ple", "esmm", "aitm")
#: Models whose tasks share no parameter (``MTLModel.independent_tasks``): tuned task by task.
INDEPENDENT_TASK_MODELS = frozenset({"single_task"})


def model_key(model: str) -> tuple[int, str]:
    """Sort key of a model name in display order."""
    return (MODEL_ORDER.index(model), model) if model in MODEL_ORDER else (len(MODEL_ORDER), model)


Range = tuple[float, float]  # a published value; (v, v) for a point, (lo, hi) for "0.9946–0.9947"


@dataclass(frozen=True)
class Published:
    """One published test metric of ``model`` on ``task`` (a task key, ``SuiteMeta.task_key``) of the suite
    instances whose parameters include ``point`` (e.g. ``{"group": 1}``), from ``source`` (a key of the
    suite's ``SuiteMeta.sources``)."""

    source: str
    point: tuple[tuple[str, Any], ...]
    task: str
    model: str
    value: Range

    def at(self, params: dict[str, Any]) -> bool:
        """Whether the value belongs to the suite instance with these parameters."""
        return all(params.get(k) == v for k, v in self.point)


def published(source: str, point: dict[str, Any], task: str, values: dict[str, float | Range]) -> list[Published]:
    """``Published`` rows of several models at once; a single number stands for the range (v, v)."""
    return [Published(source, tuple(sorted(point.items())), task, m, v if isinstance(v, tuple) else (v, v))
            for m, v in values.items()]


@dataclass(frozen=True)
class Source:
    label: str  # table column / row label, e.g. "MMoE paper"
    citation: str  # one sentence naming the publication and what its numbers are


@dataclass(frozen=True)
class SuiteMeta:
    is_sweep: bool = False  # reports treat every point of a sweep as one suite family
    sweep_param: str | None = None  # the numeric parameter the sweep varies
    points: Callable[[Profile], list[dict[str, Any]]] | None = None  # instances `--all` runs; None: the family itself
    published: tuple[Published, ...] = ()
    sources: dict[str, Source] = field(default_factory=dict)
    task_key: Callable[[str], str | None] = str  # our task name -> the ``Published.task`` it is compared with

    def published_for(self, params: dict[str, Any], task: str) -> list[Published]:
        """The published values for task ``task`` of the instance with parameters ``params``."""
        key = self.task_key(task)
        return [p for p in self.published if p.task == key and p.at(params)]

    def instance_params(self, profile: Profile) -> list[dict[str, Any]]:
        return self.points(profile) if self.points else [{}]


_PLAIN = SuiteMeta()


@cache
def suite_meta(family: str) -> SuiteMeta:
    """The family's ``tasks/<family>_meta.py`` ``META``, or the plain default when it declares none."""
    if not family.isidentifier():
        return _PLAIN
    name = f"mtlbench.tasks.{family}_meta"
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return _PLAIN
    if spec is None:
        return _PLAIN
    return getattr(importlib.import_module(name), "META", _PLAIN)


#: Modules of ``mtlbench.tasks`` that are not suite families.
_NOT_SUITES = frozenset({"user_file"})


@cache
def is_registered_suite(family: str) -> bool:
    """Whether ``family`` is one of the benchmark's own suites (a module ``tasks/<family>.py``), as opposed to a
    user suite read from a ``--suite-file`` TOML. Only registered suites enter the official leaderboard."""
    if not family.isidentifier() or family.startswith("_") or family.endswith("_meta") or family in _NOT_SUITES:
        return False
    try:
        return importlib.util.find_spec(f"mtlbench.tasks.{family}") is not None
    except ModuleNotFoundError:
        return False
