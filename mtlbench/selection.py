"""What a command runs on and writes to: device, model names, a writable results folder. Shared by
``runner`` and ``tuning`` (neither imports the other)."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .errors import MtlbenchError
from .model import get_model_class, list_models


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise MtlbenchError(f"--device {name} was requested but no CUDA GPU is available; use --device cpu or auto.")
        return torch.device(name)
    raise MtlbenchError(f"unknown device {name!r}; use auto, cpu or cuda.")


def check_writable(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise MtlbenchError(f"results directory {path} is not writable ({err.strerror}); pass --results-dir to a writable folder.") from None


def resolve_models(models: list[str] | None) -> list[str]:
    if not models:
        return list_models()
    for m in models:
        get_model_class(m)  # unknown name -> one-line error with did-you-mean
    return list(dict.fromkeys(models))


def resolve_weightings(weightings: list[str] | None) -> list[str]:
    """``--weighting`` values -> strategy names: none -> static; ``"*"`` -> every registered strategy;
    an unknown name -> one-line error with did-you-mean."""
    from .provenance import STATIC_WEIGHTING
    from .weighting import get_weighting, list_weightings

    if not weightings:
        return [STATIC_WEIGHTING]
    if "*" in weightings:
        return list_weightings()
    for name in weightings:
        get_weighting(name)
    return list(dict.fromkeys(weightings))


def weighting_skip(model_name: str, weighting: str) -> str | None:
    """Why ``model_name`` is not trained (run) or tuned (tune) with loss weighting ``weighting`` (None: it is)."""
    from .provenance import STATIC_WEIGHTING

    if weighting != STATIC_WEIGHTING and get_model_class(model_name).independent_tasks:
        return f"{weighting}: no parameter is shared, so every weighting is the static step"
    return None
