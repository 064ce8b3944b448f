"""Number and markdown formatting shared by the renderers."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

if TYPE_CHECKING:
    from .schema import Comparison


def decimals(ref: float) -> int:
    """Decimals that show about 4 significant digits of a value of the size of ``ref``."""
    if not ref or not math.isfinite(ref):
        return 4
    return int(min(8, max(2, 3 - math.floor(math.log10(abs(ref))))))


def fnum(x: float | None, d: int, sign: bool = False) -> str:
    """``x`` with ``d`` decimals (``sign``: a leading + or −; a value that rounds to zero has none)."""
    if x is None or not math.isfinite(x):
        return "–"
    if round(x, d) == 0:
        return f"{0:.{d}f}"
    return f"{x:+.{d}f}" if sign else f"{x:.{d}f}"


def fp(p: float | None) -> str:
    """A p-value as shown in tables ("" when there is no test)."""
    if p is None:
        return ""
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


def human(x: float) -> str:
    """3 significant digits with a k / M / G unit."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.3g} {unit}"
    return f"{x:.3g}"


def md_table(headers: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    return tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True,
                    colalign=align or ["left"] * len(headers))


def code(s: str) -> str:
    return f"`{s}`"


def direction_arrow(t: dict[str, Any]) -> str:
    return "↑" if t["higher_is_better"] else "↓"


def gain_spread(c: Comparison, d: int, pm: str = "±") -> str:
    """A gain's uncertainty as the tables show it: its paired 95 % interval ``[lo, hi]`` when it has one, else
    ``pm`` and the unpaired test-set standard error, with ``d`` decimals."""
    if c.ci is not None:
        return f"[{fnum(c.ci[0], d, sign=True)}, {fnum(c.ci[1], d, sign=True)}]"
    return f"{pm}{fnum(c.se_test, d)}"
