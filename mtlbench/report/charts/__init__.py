"""Plotly charts of a report: interactive HTML (offline, plotly.js shipped beside it) and static PNGs.

``specs.chart_specs`` decides which charts exist from the ``Report``; one module per chart kind draws it
(``FIGURES``); ``html`` and ``static`` write them. Figures are serialised with the standard library's
json, so the same records give byte-identical charts on every machine.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from ..schema import Report
from . import cd, curves, experiment, gain, sweep, tuning, utilisation, weighting
from .html import write_html
from .specs import ChartSpec, chart_specs, model_colour, model_marker, png_size
from .static import browser_errors, find_browser, png_digests, write_static
from .tuning import importance

__all__ = ["ChartSpec", "FIGURES", "build_figure", "browser_errors", "chart_specs", "find_browser", "importance",
           "model_colour", "model_marker", "png_digests", "png_size", "write_charts", "write_html", "write_static"]

#: chart kind -> the function that draws its figure
FIGURES: dict[str, Callable] = {"gain": gain.figure, "curves": curves.figure, "sweep": sweep.figure, "utilisation": utilisation.figure,
                                "tuning": tuning.history_figure, "importance": tuning.importance_figure,
                                "cd": cd.figure, "exp_curves": experiment.curves_figure,
                                "exp_final": experiment.final_figure, "wgain": weighting.figure}


def build_figure(spec: ChartSpec):
    return FIGURES[spec.kind](spec)


@contextmanager
def stdlib_json():
    """Serialise figures with the standard library's json, not orjson where it happens to be installed
    (orjson escapes differently): the same records give byte-identical charts on every machine."""
    import plotly.io as pio

    engine = pio.json.config.default_engine
    pio.json.config.default_engine = "json"
    try:
        yield
    finally:
        pio.json.config.default_engine = engine


_stdlib_json = stdlib_json


def write_charts(rep: Report, out_dir: Path, static: bool = True) -> tuple[Path, list[Path], str | None]:
    """Write ``report.html`` (+ ``plotly.min.js``) and, with ``static``, a PNG per embedded chart."""
    specs = chart_specs(rep)
    with stdlib_json():
        figs = [build_figure(s) for s in specs]
        html = write_html(rep, specs, figs, out_dir)
        images, notice = write_static(specs, figs, out_dir) if static else ([], None)
    return html, images, notice


def figure_digests(rep: Report) -> dict[str, str]:
    """The PNG digests ``write_static`` records for this report, without drawing (to compare chart inputs)."""
    specs = chart_specs(rep)
    with stdlib_json():
        return png_digests(specs, [build_figure(s) for s in specs])
