"""mtlbench: a benchmark harness for multi-task learning models of recommender systems.

The public API (``mtlbench.api``: ``run``, ``tune``, ``status``, ``reproduce``, ``report``, ``export``,
``compare``; ``load_results``) mirrors the command line. ``mtlbench.report`` is the report package, and
calling it, ``mtlbench.report(profile)``, is the ``mtlbench report`` command. The API is imported lazily (PEP 562), so commands that only read records — `mtlbench report`,
`mtlbench leaderboard --check` — do not pay for importing torch.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "InputSpec": "data", "Split": "data", "SuiteData": "data", "TaskSpec": "data",
    "MtlbenchError": "errors",
    "MTLModel": "model", "SharedConfig": "model", "list_models": "model", "register_model": "model",
    "PROFILES": "profiles", "get_profile": "profiles",
    "load_records": "records", "load_results": "results", "load_histories": "results",
    "DEFAULT_PROFILE": "api", "run": "api", "tune": "api", "status": "api", "reproduce": "api",
    "export": "api", "compare": "api",
    "SuiteFamily": "suites", "list_suites": "suites", "load_suite": "suites", "register_suite": "suites",
    "TrainConfig": "train", "fit": "train",
}
__all__ = sorted([*_EXPORTS, "report"])


def __getattr__(name: str) -> Any:
    if name == "report":  # the report package, callable as the API function (``report.__call__``)
        return importlib.import_module(".report", __name__)
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mtlbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
