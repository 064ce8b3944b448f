"""Learning curves of one suite: validation score and each task's validation metric per evaluation, one panel
each; mean over seeds with a ± one standard deviation band."""
from __future__ import annotations

from ..curves import Curve, SuiteCurves
from .specs import FAINT, ChartSpec, highlighted, layout, model_colour, model_marker


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def figure(spec: ChartSpec):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    c: SuiteCurves = spec.data
    titles = ["validation score"] + [f"{t['name']} (val {t['metric'].upper()}{' ↑' if t['higher_is_better'] else ' ↓'})"
                                     for t in c.tasks]
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles)
    final = {m.model: (m.score.mean[-1] if m.score.mean else float("-inf")) for m in c.models}
    shown = highlighted([m.model for m in c.models], final)
    for m in c.models:
        full = m.model in shown
        colour = model_colour(m.model)
        for col, curve in enumerate([m.score, *m.tasks], start=1):
            _add(fig, go, curve, m.model, colour, full, col, legend=col == 1)
    for col in range(1, len(titles) + 1):
        fig.update_xaxes(title_text="evaluation", tickformat="d", row=1, col=col)
    layout(fig, spec.title)
    return fig


def _add(fig, go, curve: Curve, model: str, colour: str, full: bool, col: int, legend: bool) -> None:
    xs = list(range(1, len(curve.mean) + 1))
    if not xs:
        return
    if full and any(n > 1 for n in curve.seeds):  # the band: upper edge, then lower edge filled up to it
        fig.add_trace(go.Scatter(x=xs + xs[::-1], y=curve.hi + curve.lo[::-1], fill="toself", fillcolor=_rgba(colour, 0.15),
                                 line=dict(width=0), hoverinfo="skip", showlegend=False, legendgroup=model), row=1, col=col)
    fig.add_trace(go.Scatter(x=xs, y=curve.mean, mode="lines+markers", name=model, legendgroup=model, showlegend=legend,
                             opacity=1.0 if full else FAINT, line=dict(color=colour, width=2 if full else 1),
                             marker=dict(symbol=model_marker(model), size=6 if full else 4, color=colour),
                             customdata=curve.seeds,
                             hovertemplate=f"{model}<br>evaluation %{{x}}: %{{y:.4f}} (%{{customdata}} seeds)<extra></extra>"),
                  row=1, col=col)
