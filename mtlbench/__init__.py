"""mtlbench: a benchmark harness for multi-task learning models of recommender systems."""
from __future__ import annotations

__version__ = "0.1.0"

from .data import InputSpec, Split, SuiteData, TaskSpec  # noqa: E402
from .errors import MtlbenchError  # noqa: E402
from .model import MTLModel, SharedConfig, list_models, register_model  # noqa: E402
from .profiles import PROFILES, get_profile  # noqa: E402
from .records import load_records, load_results  # noqa: E402
from .runner import run, status  # noqa: E402
from .suites import SuiteFamily, list_suites, load_suite, register_suite  # noqa: E402
from .train import TrainConfig, fit  # noqa: E402

__all__ = [
    "InputSpec", "MTLModel", "MtlbenchError", "PROFILES", "SharedConfig", "Split", "SuiteData", "SuiteFamily",
    "TaskSpec", "TrainConfig", "fit", "get_profile", "list_models", "list_suites", "load_records", "load_results",
    "load_suite", "register_model", "register_suite", "run", "status",
]
