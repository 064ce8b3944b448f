"""Torch-free metadata of the `aliexpress` family (``mtlbench.metadata``): one instance per country subset
(not a sweep: the countries are separate data sets)."""
from __future__ import annotations

from mtlbench.metadata import SuiteMeta

COUNTRIES = ("NL", "ES", "FR", "US")  # tasks/aliexpress.py imports this tuple

META = SuiteMeta(points=lambda profile: [{"country": c} for c in COUNTRIES])
