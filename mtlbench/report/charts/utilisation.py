"""Expert-utilisation heatmaps of one utilisation export: one panel per gate bank."""
from __future__ import annotations

import math

import numpy as np

from .specs import ChartSpec, layout


def as_float_matrix(rows: list[list[float | None]]) -> np.ndarray:
    """A bank's mean / std rows with None (gate not connected to that expert) as NaN."""
    return np.asarray([[math.nan if v is None else float(v) for v in row] for row in rows], dtype=float)


def figure(spec: ChartSpec):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    u = spec.data
    banks = list(u.banks.items())
    fig = make_subplots(rows=1, cols=len(banks), subplot_titles=[b.get("title", name) for name, b in banks],
                        horizontal_spacing=0.12)
    for i, (name, b) in enumerate(banks, 1):
        mean, std = as_float_matrix(b["mean"]), as_float_matrix(b["std"])
        text = [[f"{mean[r, c]:.2f}<br>±{std[r, c]:.2f}" if math.isfinite(mean[r, c]) else "" for c in range(mean.shape[1])]
                for r in range(mean.shape[0])]
        z = [[float(v) if math.isfinite(v) else None for v in row] for row in mean]  # None: gate not connected
        fig.add_trace(go.Heatmap(z=z, x=b.get("cols"), y=b.get("rows"), text=text, texttemplate="%{text}",
                                 zmin=0, zmax=1, colorscale="Blues", showscale=i == len(banks),
                                 hovertemplate="gate %{y}<br>expert %{x}<br>mean weight %{z:.3f}<extra></extra>"),
                      row=1, col=i)
        fig.update_yaxes(autorange="reversed", row=1, col=i)
    layout(fig, f"Expert utilisation: {spec.title}<br><sup>mean ± std over the test set of the weight each gate "
                 "puts on each expert; blank: not connected</sup>")
    fig.update_layout(margin=dict(t=100))
    return fig
