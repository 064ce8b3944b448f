"""Where a run's parameters came from (``ParamsSource``) and which run a label names (``RunId``).

A ``ParamsSource`` is a label, not part of a record's key: the same parameters and seed requested under two
labels are one record that carries both (``RunRecord.params_sources``). Its text form is the one committed
records and the leaderboard contain; ``str(source)`` writes it and ``ParamsSource.parse`` reads it, and
nothing else in the package builds or splits these strings:

    default                                      the model's defaults
    trial                                        a tuning trial's sample (never recorded)
    study:<study name>#<n>                       trial n of a study (its best, or its reference)
    study:<study name>#t<n1>,t<n2>,...           task k trains with trial n_k (task-wise)
    file:<path>                                  a parameters file
    <study or file>+weighting:<name>             with loss weighting <name> at its paper defaults in place of
                                                 the one the study or file tuned (no study of <name> existed)
    <any of these>+set:<name>=<value>,...        with ``--set`` overrides (sorted by name)
    <any of these> task <k>                      the part of a task-wise source that task k (1-based) uses

A study name is ``<model>@<suite>@<profile>[+<weighting>][@mo]`` (``StudyId.name``).

Torch-free and optuna-free, so the report layer can use it.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import MtlbenchError
from .names import suite_slug

SourceKind = Literal["default", "trial", "study", "file"]

_TASK = re.compile(r"^(?P<base>.*) task (?P<k>[1-9][0-9]*)$", re.S)
_TRIALS = re.compile(r"^(?P<trials>[0-9]+|t[0-9]+(?:,t[0-9]+)*)(?:\+weighting:(?P<weighting>[A-Za-z_][A-Za-z0-9_]*))?"
                     r"(?P<rest>.*)$", re.S)
_OVERRIDE = re.compile(r",(?=[A-Za-z_][A-Za-z0-9_]*=)")  # a comma that starts the next "name="
_WEIGHTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # a registered strategy's name (mtlbench/weighting/)
_WEIGHTING_TAG = re.compile(r"^(?P<base>.*)\+weighting:(?P<name>[A-Za-z_][A-Za-z0-9_]*)$", re.S)
#: The default loss weighting (``TrainConfig.weighting``): left out of study names, files and labels.
STATIC_WEIGHTING = "static"


@dataclass(frozen=True, order=True)
class StudyId:
    """A study's identity: one Optuna study per (model, suite instance, profile, loss weighting[,
    multi-objective]). ``name`` is its Optuna study name, ``slug`` the file stem of its export and journal.

    The weighting (a strategy of ``mtlbench list weightings``) is written only when it is not ``static``, so
    studies tuned before weightings existed keep their names and files: ``ple@video@standard`` tunes PLE with
    the static weighting, ``ple@video@standard+uw`` PLE with uncertainty weighting (its search space adds the
    strategy's own hyper-parameters). The ``+<weighting>`` suffix follows the profile, the last ``@`` part,
    which never contains ``+``; so no suite name, whatever it contains, is read as a weighting.
    """

    model: str
    suite: str
    profile: str
    multi_objective: bool = False
    weighting: str = STATIC_WEIGHTING

    def __post_init__(self) -> None:
        if not _WEIGHTING_NAME.match(self.weighting):
            raise ValueError(f"a weighting name is an identifier: {self.weighting!r}")

    @property
    def _weighting_suffix(self) -> str:
        return "" if self.weighting == STATIC_WEIGHTING else f"+{self.weighting}"

    @property
    def name(self) -> str:
        """The Optuna study name: ``<model>@<suite>@<profile>[+<weighting>][@mo]``."""
        return f"{self.model}@{self.suite}@{self.profile}{self._weighting_suffix}" + ("@mo" if self.multi_objective else "")

    @property
    def slug(self) -> str:
        """File stem of the study's export and journal: ``ple@synthetic_p_0.5``, ``ple@video+uw`` (the suite by
        ``names.suite_slug``; no profile: the folder is the profile's)."""
        return f"{self.model}@{suite_slug(self.suite)}" + self._weighting_suffix + ("@mo" if self.multi_objective else "")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def parse(cls, name: str) -> StudyId:
        """Inverse of ``name``. The suite may contain ``@`` and ``+``; the model and profile may not."""
        multi = name.endswith("@mo") and name.count("@") >= 3
        core = name.removesuffix("@mo") if multi else name
        model, _, rest = core.partition("@")
        suite, _, last = rest.rpartition("@")
        profile, plus, weighting = last.partition("+")
        if not (model and suite and profile) or (plus and (not _WEIGHTING_NAME.match(weighting) or weighting == STATIC_WEIGHTING)):
            raise MtlbenchError(f"cannot read study name {name!r}; expected <model>@<suite>@<profile>[+<weighting>][@mo].")
        return cls(model, suite, profile, multi, weighting or STATIC_WEIGHTING)


@dataclass(frozen=True)
class ParamsSource:
    """Where a ``RunParams`` came from. Build with the class methods; ``str()``/``parse`` convert exactly.

    ``trials``: study trial numbers, one per task in task order when ``per_task_trials``.
    ``overrides``: ``--set`` values as ``(name, value text)`` pairs sorted by name; the text is ``str(value)``
    of the JSON value (``lr=0.001``, ``bottom=[64, 32]``), as it appears in the label.
    ``task``: 0-based index of the task whose part of a task-wise source this is (written 1-based).
    ``weighting_at_defaults``: a study or file source whose loss weighting was replaced by this strategy at
    its paper defaults (``mtlbench run --weighting NAME`` when no study of NAME exists); None: the weighting
    and its hyper-parameters are the source's own.
    """

    kind: SourceKind
    study: StudyId | None = None
    trials: tuple[int, ...] = ()
    per_task_trials: bool = False
    file: str | None = None
    overrides: tuple[tuple[str, str], ...] = field(default=())
    task: int | None = None
    weighting_at_defaults: str | None = None

    def __post_init__(self) -> None:
        if (self.kind == "study") != (self.study is not None) or (self.kind == "study" and not self.trials):
            raise ValueError(f"a study source names a study and its trial(s): {self!r}")
        if (self.kind == "file") != (self.file is not None):
            raise ValueError(f"a file source names its file, and only it: {self!r}")
        if list(self.overrides) != sorted(self.overrides) or len({k for k, _ in self.overrides}) != len(self.overrides):
            raise ValueError(f"overrides are sorted by name, each name once: {self.overrides!r}")
        if self.weighting_at_defaults is not None and (self.kind not in ("study", "file")
                                                       or not _WEIGHTING_NAME.match(self.weighting_at_defaults)):
            raise ValueError(f"only a study or file source has its weighting replaced, by a strategy's name: {self!r}")

    # ---------------------------------------------------------------- constructors
    @classmethod
    def default(cls) -> ParamsSource:
        return cls("default")

    @classmethod
    def trial(cls) -> ParamsSource:
        return cls("trial")

    @classmethod
    def from_study(cls, study: StudyId, numbers: tuple[int, ...] | list[int], per_task: bool = False) -> ParamsSource:
        return cls("study", study=study, trials=tuple(numbers), per_task_trials=per_task)

    @classmethod
    def from_file(cls, path: Any) -> ParamsSource:
        return cls("file", file=str(path))

    def with_overrides(self, overrides: dict[str, Any]) -> ParamsSource:
        """This source with ``--set`` values (replacing any it had); none: unchanged."""
        if not overrides:
            return self
        pairs = tuple(sorted((str(k), str(v)) for k, v in overrides.items()))
        return dataclasses.replace(self, overrides=pairs)

    def for_task(self, k: int) -> ParamsSource:
        """The part of this (task-wise) source that task ``k`` (0-based) trains with."""
        return dataclasses.replace(self, task=k)

    def with_weighting_at_defaults(self, weighting: str) -> ParamsSource:
        """This study or file source with its loss weighting replaced by ``weighting`` at its paper defaults."""
        return dataclasses.replace(self, weighting_at_defaults=weighting)

    # ---------------------------------------------------------------- reading
    @property
    def is_tuned(self) -> bool:
        """Anything but the defaults (the report prefers such runs)."""
        return self.kind != "default"

    @property
    def study_suite(self) -> str | None:
        """The suite the study was tuned on (a sweep point may borrow another point's study)."""
        return self.study.suite if self.study else None

    # ---------------------------------------------------------------- text form
    def __str__(self) -> str:
        if self.kind == "study":
            assert self.study is not None
            trials = ",".join(f"t{n}" for n in self.trials) if self.per_task_trials else ",".join(map(str, self.trials))
            text = f"study:{self.study.name}#{trials}"
        elif self.kind == "file":
            text = f"file:{self.file}"
        else:
            text = self.kind
        if self.weighting_at_defaults is not None:
            text += f"+weighting:{self.weighting_at_defaults}"
        if self.overrides:
            text += "+set:" + ",".join(f"{k}={v}" for k, v in self.overrides)
        return text + (f" task {self.task + 1}" if self.task is not None else "")

    to_str = __str__

    @classmethod
    def parse(cls, text: str) -> ParamsSource:
        """Inverse of ``str()``: ``ParamsSource.parse(str(s)) == s`` and ``str(ParamsSource.parse(t)) == t``.
        One-line ``MtlbenchError`` for text that is no source. (A file path containing ``+set:`` or ending in
        ``+weighting:<name>`` or `` task <k>`` cannot be told apart from those suffixes and is read as them.)"""
        task = None
        if m := _TASK.match(text):
            text, task = m["base"], int(m["k"]) - 1
        overrides: tuple[tuple[str, str], ...] = ()
        if text.startswith("study:"):
            name, sep, rest = text.removeprefix("study:").partition("#")
            t = _TRIALS.match(rest) if sep else None
            if not t or (t["rest"] and not t["rest"].startswith("+set:")):
                raise MtlbenchError(f"cannot read parameter source {text!r}; expected study:<study name>#<trial>.")
            overrides = _parse_overrides(t["rest"].removeprefix("+set:")) if t["rest"] else ()
            per_task = t["trials"].startswith("t")
            numbers = tuple(int(n.removeprefix("t")) for n in t["trials"].split(","))
            return cls("study", StudyId.parse(name), numbers, per_task, None, overrides, task, t["weighting"])
        base, sep, tag = text.partition("+set:")
        if sep:
            overrides = _parse_overrides(tag)
        if base.startswith("file:"):
            w = _WEIGHTING_TAG.match(base)
            return cls("file", file=(w["base"] if w else base).removeprefix("file:"), overrides=overrides, task=task,
                       weighting_at_defaults=w["name"] if w else None)
        if base in ("default", "trial"):
            return cls(base, overrides=overrides, task=task)  # type: ignore[arg-type]
        raise MtlbenchError(f"cannot read parameter source {text!r}; expected default, study:<name>#<trial> or file:<path>.")


def _parse_overrides(tag: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in _OVERRIDE.split(tag):
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise MtlbenchError(f"cannot read --set part {item!r} of a parameter source; expected name=value.")
        pairs.append((name, value))
    return tuple(sorted(pairs))


@dataclass(frozen=True, order=True)
class RunId:
    """One run of ``mtlbench run``: (suite instance, model, seed), written ``<suite>/<model>/seed<seed>``."""

    suite: str
    model: str
    seed: int

    def __str__(self) -> str:
        return f"{self.suite}/{self.model}/seed{self.seed}"

    def as_dict(self) -> dict[str, Any]:
        return {"suite": self.suite, "model": self.model, "seed": self.seed}

    @classmethod
    def from_failure(cls, info: dict[str, Any]) -> RunId | None:
        """The run a failure file (``RecordStore.write_failure``) is about; None when it does not say.
        Failure files name suite, model and seed; files of older versions only the text ``run``."""
        if {"suite", "model", "seed"} <= set(info):
            return cls(str(info["suite"]), str(info["model"]), int(info["seed"]))
        suite, _, rest = str(info.get("run", "")).rpartition("/")
        suite, _, model = suite.rpartition("/")
        seed = rest.removeprefix("seed")
        return cls(suite, model, int(seed)) if suite and model and seed.isdigit() else None
