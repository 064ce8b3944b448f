"""Torch-free metadata of the `synthetic` family (``mtlbench.metadata``): a sweep over the correlation p."""
from __future__ import annotations

from mtlbench.metadata import SuiteMeta

META = SuiteMeta(is_sweep=True, sweep_param="p", points=lambda profile: [{"p": p} for p in profile.sweep])
