"""Gain-vs-gain scatter of one suite: relative gain over single-task on two tasks, quadrants = seesaw."""
from __future__ import annotations

import math

from .specs import FAINT, ChartSpec, highlighted, layout, model_colour, model_marker


def extent(points: list[tuple[float, float]]) -> float:
    """Half-width of an axis that shows every (gain, error bar) with a margin."""
    vals = [abs(g) + e for g, e in points if math.isfinite(g)]
    return max(vals + [0.1]) * 1.2


def quadrants(fig, ex_: float, ey_: float) -> None:
    """Shade and label the four quadrants of a gain-vs-gain chart of half-widths ``ex_``, ``ey_``."""
    quads = [(0, ex_, 0, ey_, "rgba(0,160,80,0.10)", "better on both"),
             (-ex_, 0, -ey_, 0, "rgba(220,50,50,0.10)", "worse on both"),
             (-ex_, 0, 0, ey_, "rgba(240,180,0,0.12)", "seesaw"),
             (0, ex_, -ey_, 0, "rgba(240,180,0,0.12)", "seesaw")]
    for x0, x1, y0, y1, colour, label in quads:
        fig.add_shape(type="rect", x0=x0, x1=x1, y0=y0, y1=y1, fillcolor=colour, line_width=0, layer="below")
        fig.add_annotation(x=(x0 + x1) / 2, y=y1 - ey_ * 0.06 if y1 > 0 else y0 + ey_ * 0.06, text=label,
                           showarrow=False, font=dict(color="#555", size=12))


def figure(spec: ChartSpec):
    import plotly.graph_objects as go

    s = spec.data
    ref = s.reference
    pts = []
    for m in s.models:
        if m is ref:
            continue
        c0, c1 = m.comparisons[0], m.comparisons[1]
        errs = []
        for c, t in ((c0, ref.tasks[0]), (c1, ref.tasks[1])):
            se = c.se_total
            errs.append(100.0 * se / abs(t.mean) if t.mean else 0.0)
        pts.append((m.model, c0.rel_gain, c1.rel_gain, errs[0], errs[1], f"{c0.verdict} / {c1.verdict}"))
    ex_, ey_ = extent([(p[1], p[3]) for p in pts]), extent([(p[2], p[4]) for p in pts])
    fig = go.Figure()
    quadrants(fig, ex_, ey_)
    shown = highlighted([p[0] for p in pts], {p[0]: (p[1] + p[2]) / 2 for p in pts if math.isfinite(p[1] + p[2])})
    for model, x, y, ex, ey, verdicts in pts:
        full = model in shown  # a crowded chart: error bars and full colour for the best models only
        fig.add_trace(go.Scatter(
            x=[x], y=[y], mode="markers", name=model, opacity=1.0 if full else FAINT,
            marker=dict(size=12 if full else 9, color=model_colour(model), symbol=model_marker(model),
                        line=dict(width=1, color="#333")),
            error_x=dict(type="data", array=[ex], visible=full), error_y=dict(type="data", array=[ey], visible=full),
            hovertemplate=f"{model}<br>{s.tasks[0]['name']}: %{{x:.3f}}%<br>{s.tasks[1]['name']}: %{{y:.3f}}%<br>{verdicts}<extra></extra>"))
    layout(fig, spec.title, showlegend=True,
            xaxis=dict(title=f"{s.tasks[0]['name']}: relative gain over single-task (%)", range=[-ex_, ex_],
                       zeroline=True, zerolinecolor="#444"),
            yaxis=dict(title=f"{s.tasks[1]['name']}: relative gain over single-task (%)", range=[-ey_, ey_],
                       zeroline=True, zerolinecolor="#444"))
    return fig
