"""mtlbench: a benchmark harness for multi-task learning models of recommender systems.

The public API is imported lazily (PEP 562), so commands that only read records — `mtlbench report`,
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
    "load_records": "records", "load_results": "records",
    "run": "runner", "status": "runner",
    "SuiteFamily": "suites", "list_suites": "suites", "load_suite": "suites", "register_suite": "suites",
    "TrainConfig": "train", "fit": "train",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mtlbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
