"""Critical-difference diagram (Demšar 2006): models on a mean-rank axis, bars joining the groups of models
that are not significantly different, and the CD as a scale bar."""
from __future__ import annotations

from ..uncertainty import Friedman
from .specs import ChartSpec, layout, model_colour


def figure(spec: ChartSpec):
    import plotly.graph_objects as go

    f: Friedman = spec.data
    k = len(f.models)
    fig = go.Figure()
    for i, (model, r) in enumerate(zip(f.models, f.mean_ranks)):
        y = -(i + 1)  # one row per model, best at the top
        fig.add_trace(go.Scatter(x=[r], y=[y], mode="markers+text", name=model, text=[f"{model} ({r:.2f})"],
                                 textposition="middle right", marker=dict(size=11, color=model_colour(model)),
                                 hovertemplate=f"{model}: mean rank {r:.2f}<extra></extra>", showlegend=False))
    for n, (i, j) in enumerate(f.groups):  # a bar from the first to the last model of each group
        x0, x1 = f.mean_ranks[i], f.mean_ranks[j]
        y = 0.6 + 0.35 * n
        fig.add_shape(type="line", x0=x0, x1=x1, y0=y, y1=y, line=dict(color="#333", width=5))
    if f.cd is not None:
        fig.add_shape(type="line", x0=1, x1=1 + f.cd, y0=-(k + 1), y1=-(k + 1), line=dict(color="#c0392b", width=3))
        fig.add_annotation(x=1 + f.cd / 2, y=-(k + 1), text=f"CD = {f.cd:.2f}", showarrow=False, yshift=12)
    top = 0.6 + 0.35 * max(len(f.groups), 1)
    layout(fig, spec.title, xaxis=dict(title="mean rank (1 = best)", range=[0.5, max(k, 1 + (f.cd or 0)) + 1.5]),
           yaxis=dict(visible=False, range=[-(k + 1.8), top + 0.3]))
    return fig
