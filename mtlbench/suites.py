"""Suite families: registered metadata objects that load a suite instance for a profile."""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any, ClassVar

import torch

from .data import SuiteData, format_instance, parse_instance
from .errors import MtlbenchError
from .fsio import atomic_write_with
from .perf import exact_floats
from .profiles import Profile
from .registry import Registry


class SuiteFamily:
    """One registered suite (or sweep of suites). Subclass, set the class attributes, implement ``load``.

    ``defaults`` lists every parameter the family accepts with its documented default; an instance name
    such as ``synthetic[p=0.5]`` overrides some of them. ``points`` says which instances ``--all`` runs.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}
    is_sweep: ClassVar[bool] = False  # reports treat every point of a sweep as one suite family
    #: the numeric parameter a sweep varies (e.g. "p"); a point without a tuned study borrows the parameters
    #: tuned at the nearest point (`tuning.StudyParams`)
    sweep_param: ClassVar[str | None] = None
    #: Suites read from files the user downloads (AliExpress, Ali-CCP): the environment variable naming their
    #: folder. Such a family joins the default suite list (no ``--suite``) only when ``available()``.
    data_env: ClassVar[str | None] = None

    def available(self) -> bool:
        """Whether the default suite list includes this family: True unless its local data folder is unset."""
        return self.data_env is None or bool(os.environ.get(self.data_env))

    def points(self, profile: Profile) -> list[dict[str, Any]]:
        return [{}]

    def load(self, params: dict[str, Any], profile: Profile) -> SuiteData:
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            known = ", ".join(self.defaults) or "none"
            raise MtlbenchError(f"suite {self.name!r} has no parameter {unknown[0]!r}; its parameters are: {known}.")
        return {**self.defaults, **params}


SUITES: Registry[type[SuiteFamily]] = Registry("suite", "mtlbench.tasks")
register_suite = SUITES.register


def list_suites(pattern: str | None = None) -> list[str]:
    return SUITES.names(pattern)


def get_family(name: str) -> SuiteFamily:
    return SUITES.get(name)()


def expand_suites(names: list[str] | None, profile: Profile) -> list[str]:
    """Instance names to run: a family name expands to the profile's points; an instance stays as is.
    No names: every family, less those reading local data that is not configured (``SuiteFamily.available``)."""
    out: list[str] = []
    for name in names or [n for n in SUITES.names() if get_family(n).available()]:
        family, params = parse_instance(name)
        fam = get_family(family)
        if params:
            fam.check_params(params)
            out.append(format_instance(family, params))
        else:
            out.extend(format_instance(family, p) for p in fam.points(profile))
    return list(dict.fromkeys(out))


#: The last suite instance loaded, kept by worker processes (``keep_last_suite``): a worker's consecutive units
#: of work mostly share their suite, and loading one (even from the cache) takes up to seconds.
_LAST: dict[tuple[str, str], SuiteData] = {}
_KEEP_LAST = [False]


def keep_last_suite(on: bool = True) -> None:
    """From now on ``load_suite`` returns the instance it loaded last again instead of loading it anew (``on``)."""
    if _KEEP_LAST[0] != on:
        _KEEP_LAST[0] = on
        _LAST.clear()


def load_suite(instance: str, profile: Profile) -> SuiteData:
    if _KEEP_LAST[0] and (instance, profile.name) in _LAST:
        return _LAST[(instance, profile.name)]
    data = _load_suite(instance, profile)
    if _KEEP_LAST[0]:
        _LAST.clear()
        _LAST[(instance, profile.name)] = data
    return data


def _load_suite(instance: str, profile: Profile) -> SuiteData:
    family, params = parse_instance(instance)
    fam = get_family(family)
    fam.check_params(params)
    with exact_floats():  # the same bytes whether or not this process trained (and flushes denormals) already
        data = fam.load(params, profile)
        data.name = instance
        data.family = family
        data.version = fam.version
        data.params = {**fam.check_params(params), **data.params, "profile": profile.name}
        return data.finalize() if not data.checksum else data


# ---------------------------------------------------------------- on-disk cache
def cache_dir() -> Path:
    root = os.environ.get("MTLBENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "mtlbench"
    )
    return Path(root)


def cached_suite(key_parts: dict[str, Any], build) -> SuiteData:
    """Load a preprocessed suite from the cache, keyed by its inputs (data checksum, suite version, ...),
    or build it and store it atomically. The cache is an optimisation only: any failure rebuilds."""
    key = hashlib.sha256(repr(sorted(key_parts.items())).encode()).hexdigest()[:20]
    path = cache_dir() / f"{key}.pt"
    if path.exists():
        try:
            data = torch.load(path, weights_only=False)
            if isinstance(data, SuiteData) and data.checksum:
                return data
        except Exception as err:  # corrupt cache file: rebuild
            print(f"mtlbench: ignoring unreadable cache file {path} ({err.__class__.__name__})", file=sys.stderr)
    data = build().finalize()
    try:
        atomic_write_with(path, lambda fh: torch.save(data, fh))
    except OSError:
        pass
    return data
