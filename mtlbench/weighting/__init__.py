"""Loss-weighting strategies, one file each, registered with ``@register_weighting`` (see ``base.py`` for
the interface the trainer calls and the contract every strategy keeps)."""
from .base import (
    SharedParameters,
    Step,
    Weighting,
    find_shared,
    get_weighting,
    list_weightings,
    make_weighting,
    register_weighting,
    weighting_config,
)

__all__ = [
    "SharedParameters", "Step", "Weighting", "find_shared", "get_weighting", "list_weightings", "make_weighting",
    "register_weighting", "weighting_config",
]
