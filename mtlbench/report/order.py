"""Display order of models (the registry's, ``mtlbench.metadata``) and of suite instances."""
from __future__ import annotations

from ..metadata import MODEL_ORDER, model_key
from ..names import parse_instance

__all__ = ["MODEL_ORDER", "model_key", "suite_key"]


def suite_key(name: str) -> tuple:
    """Sort key of a suite instance: family, then parameters (numbers numerically)."""
    family, params = parse_instance(name)
    return (family, tuple((k, (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))) for k, v in sorted(params.items())))
