"""Architecture × weighting on one suite: each pair's relative gain over single-task on two tasks, colour per
architecture, marker per strategy; the quadrants say better on both / worse on both / seesaw."""
from __future__ import annotations

from ..weighting import WeightingSuite
from .gain import extent, quadrants
from .specs import ChartSpec, layout, model_colour

#: marker per strategy, in the order the strategies appear (static first); cycles past the end
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "triangle-down", "star", "hexagon", "cross", "x",
           "pentagon", "triangle-left", "triangle-right", "hourglass", "bowtie")


def figure(spec: ChartSpec):
    import plotly.graph_objects as go

    w: WeightingSuite = spec.data
    ref = w.result.reference
    tasks = [t["name"] for t in w.result.tasks[:2]]
    strategies = list(dict.fromkeys(p.weighting for p in w.pairs))
    pts = []
    for p in w.pairs:
        c = p.result.comparisons[:2]
        errs = [100.0 * ci.se_total / abs(t.mean) if t.mean else 0.0 for ci, t in zip(c, ref.tasks)]
        pts.append((p, c[0].rel_gain, c[1].rel_gain, errs[0], errs[1], f"{c[0].verdict} / {c[1].verdict}"))

    ex_, ey_ = extent([(q[1], q[3]) for q in pts]), extent([(q[2], q[4]) for q in pts])
    fig = go.Figure()
    quadrants(fig, ex_, ey_)
    for p, x, y, ex, ey, verdicts in pts:
        fig.add_trace(go.Scatter(
            x=[x], y=[y], mode="markers", name=f"{p.architecture} + {p.weighting}", legendgroup=p.architecture,
            marker=dict(size=11, color=model_colour(p.architecture), line=dict(width=1, color="#333"),
                        symbol=SYMBOLS[strategies.index(p.weighting) % len(SYMBOLS)]),
            error_x=dict(type="data", array=[ex], thickness=1), error_y=dict(type="data", array=[ey], thickness=1),
            hovertemplate=(f"{p.architecture} + {p.weighting}<br>{tasks[0]}: %{{x:.3f}}%<br>{tasks[1]}: %{{y:.3f}}%"
                           f"<br>{verdicts}<extra></extra>")))
    layout(fig, spec.title, showlegend=True,
           xaxis=dict(title=f"{tasks[0]}: relative gain over single-task (%)", range=[-ex_, ex_], zeroline=True,
                      zerolinecolor="#444"),
           yaxis=dict(title=f"{tasks[1]}: relative gain over single-task (%)", range=[-ey_, ey_], zeroline=True,
                      zerolinecolor="#444"))
    return fig
