"""The MMoE synthetic experiment's charts: training-loss curves over steps (mean and 10–90 % band over runs,
one panel per correlation) and the distribution of final training losses over runs (the paper's
trainability figure)."""
from __future__ import annotations

from ..experiment import Experiment
from .specs import ChartSpec, layout, model_colour


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def curves_figure(spec: ChartSpec):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    e: Experiment = spec.data
    rows = [False] + ([True] if any(e.curve(m, p, validation=True) for m in e.models for p in e.correlations) else [])
    fig = make_subplots(rows=len(rows), cols=len(e.correlations), shared_yaxes="rows", shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=[f"p = {p:g}" for p in e.correlations] + [""] * len(e.correlations) * (len(rows) - 1))
    for row, validation in enumerate(rows, 1):
        for col, p in enumerate(e.correlations, 1):
            for m in e.models:
                c = e.curve(m, p, validation)
                if c is None:
                    continue
                colour = model_colour(m)
                fig.add_trace(go.Scatter(x=c.steps + c.steps[::-1], y=c.high + c.low[::-1], fill="toself",
                                         fillcolor=_rgba(colour, 0.15), line=dict(width=0), hoverinfo="skip",
                                         showlegend=False, legendgroup=m), row=row, col=col)
                what = "validation MSE" if validation else "training loss"
                fig.add_trace(go.Scatter(x=c.steps, y=c.mean, mode="lines+markers" if validation else "lines", name=m,
                                         legendgroup=m, line=dict(color=colour), marker=dict(size=4),
                                         showlegend=row == 1 and col == 1,
                                         hovertemplate=f"{m}, p={p:g}, {what}<br>step %{{x}}: %{{y:.4f}}<extra></extra>"),
                              row=row, col=col)
            if row == len(rows):
                fig.update_xaxes(title_text="training step", row=row, col=col)
        fig.update_yaxes(title_text="validation MSE" if validation else "training loss",
                         type="log", row=row, col=1)
    fig.update_yaxes(type="log")
    layout(fig, spec.title, showlegend=True)
    return fig


def final_figure(spec: ChartSpec):
    import plotly.graph_objects as go

    e: Experiment = spec.data
    fig = go.Figure()
    for m in e.models:
        xs, ys = [], []
        for p in e.correlations:
            losses = e.final_losses(m, p)
            xs += [f"p = {p:g}"] * len(losses)
            ys += losses
        fig.add_trace(go.Box(x=xs, y=ys, name=m, marker_color=model_colour(m), boxpoints="all", jitter=0.4,
                             pointpos=0))
    layout(fig, spec.title, boxmode="group", showlegend=True,
           yaxis=dict(title="final training loss (mean over tasks)", type="log"), xaxis=dict(title="task correlation"))
    return fig
