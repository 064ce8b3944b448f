"""Default configurations matched in size: on every suite, each model's default has (within ±20 %) the dense
parameter count of the reference architecture's default, at the same depth (docs/protocol.md §4).

Why: a default comparison where the shared bottom has 25k parameters and MMoE 57k measures the
configurations, not the architectures. The rule: take the reference's default (``REFERENCE``: the shared
bottom, ``MLP[128, 64]`` + tower ``[32]``) on the suite, count its dense parameters (all but embedding tables,
which the suite and ``emb_dim`` fix for every model), then scale the body widths of each other model's default
(``MTLModel.width_fields``; towers stay) by one common factor, chosen by bisection, until its dense count is
closest to the reference's. ``single_task`` is matched in total (its K networks together), as the "K
separate models" every gain is measured against. Every default has depth 3 (``MTLModel.depth``).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

from .cost import dense_params
from .data import InputSpec, TaskSpec
from .errors import MtlbenchError
from .model import SharedConfig, build_model, get_model_class, make_config

REFERENCE = "hard_sharing"
TOLERANCE = 0.20  # |dense(model) / dense(reference) − 1| allowed
RULE = (f"every default matched to {REFERENCE}'s default in dense parameters (±{TOLERANCE:.0%}, embedding tables "
        "excluded) by scaling body widths; towers unchanged; depth 3 everywhere")


@dataclass(frozen=True)
class Matched:
    config: Any  # the model's Config
    dense_params: int
    target: int  # the reference's dense parameters on this suite
    scale: float  # factor applied to the body widths (1.0: the class defaults)
    depth: int

    @property
    def ratio(self) -> float:
        return self.dense_params / self.target


def _scaled(model: str, scale: float) -> Any:
    cls = get_model_class(model)
    base = make_config(model)
    q = cls.width_multiple

    def width(w: int) -> int:
        return max(q, q * round(w * scale / q))

    changes: dict[str, Any] = {}
    for name in cls.width_fields:
        value = getattr(base, name)
        changes[name] = tuple(width(w) for w in value) if isinstance(value, tuple) else width(value)
    return dataclasses.replace(base, **changes)


def _dense(model: str, cfg: Any, inputs: InputSpec, tasks: tuple[TaskSpec, ...], shared: SharedConfig) -> int:
    return dense_params(build_model(model, inputs, tasks, cfg, shared))


@functools.lru_cache(maxsize=256)
def matched_default(model: str, inputs: InputSpec, tasks: tuple[TaskSpec, ...], emb_dim: int) -> Matched:
    """The model's default configuration, widths scaled to the reference's dense size on this input/task set."""
    shared = SharedConfig(emb_dim=emb_dim)
    target = _dense(REFERENCE, make_config(REFERENCE), inputs, tasks, shared)
    cls = get_model_class(model)
    if not cls.width_fields:
        cfg = make_config(model)
        return Matched(cfg, _dense(model, cfg, inputs, tasks, shared), target, 1.0, cls.depth(cfg))

    def gap(scale: float) -> float:  # log size ratio, increasing in scale
        return math.log(_dense(model, _scaled(model, scale), inputs, tasks, shared) / target)

    lo, hi = 1 / 16, 16.0
    for _ in range(24):  # bisection on the log scale
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if gap(mid) < 0 else (lo, mid)
    scale = min((lo, hi, 1.0), key=lambda s: abs(gap(s)))
    cfg = _scaled(model, scale)
    dense = _dense(model, cfg, inputs, tasks, shared)
    if abs(dense / target - 1) > TOLERANCE:
        raise MtlbenchError(f"cannot match {model}'s default to {REFERENCE}'s size on this suite ({dense} vs {target} dense "
                            f"parameters); give the model wider width_fields or a different default depth.")
    return Matched(cfg, dense, target, scale, cls.depth(cfg))


@functools.lru_cache(maxsize=1024)
def size_and_depth(model: str, cfg: Any, inputs: InputSpec, tasks: tuple[TaskSpec, ...], emb_dim: int) -> tuple[int, int]:
    """(dense parameters, depth) of a configuration: what records keep for the matched-defaults table."""
    return _dense(model, cfg, inputs, tasks, SharedConfig(emb_dim=emb_dim)), get_model_class(model).depth(cfg)
