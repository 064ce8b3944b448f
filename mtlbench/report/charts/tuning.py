"""Tuning charts of one suite: each study's trial history, and a screening importance of its parameters."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..order import model_key
from .specs import ChartSpec, layout, model_colour


def history_figure(spec: ChartSpec):
    import plotly.graph_objects as go

    fig = go.Figure()
    for st in sorted(spec.data, key=lambda s: (model_key(s.model), s.name)):
        values = sorted(st.values)
        xs = [n for n, _ in values]
        ys = [v for _, v in values]
        best = np.maximum.accumulate(ys) if st.direction.startswith("max") else np.minimum.accumulate(ys)
        colour = model_colour(st.model)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=f"{st.model} trials", legendgroup=st.model,
                                 showlegend=False, marker=dict(color=colour, size=6, opacity=0.45)))
        fig.add_trace(go.Scatter(x=xs, y=best.tolist(), mode="lines", name=st.model, legendgroup=st.model,
                                 line=dict(color=colour, shape="hv")))
    layout(fig, spec.title, xaxis=dict(title="trial number"), yaxis=dict(title="validation objective"))
    return fig


def importance(params: list[tuple[dict[str, Any], float]]) -> dict[str, float]:
    """Screening importance per hyper-parameter (normalised to sum 1): |Spearman ρ| for numeric
    values, the correlation ratio η for categorical ones, against the objective."""
    from scipy.stats import spearmanr

    y = np.asarray([v for _, v in params], dtype=float)
    names = sorted({k for p, _ in params for k in p})
    raw: dict[str, float] = {}
    for name in names:
        vals = [p.get(name) for p, _ in params]
        if any(v is None for v in vals) or len({repr(v) for v in vals}) < 2 or np.var(y) == 0:
            raw[name] = 0.0
            continue
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            rho = spearmanr(np.asarray(vals, dtype=float), y).statistic
            raw[name] = abs(float(rho)) if math.isfinite(rho) else 0.0
        else:
            groups: dict[str, list[float]] = {}
            for v, t in zip(vals, y):
                groups.setdefault(repr(v), []).append(t)
            between = sum(len(g) * (np.mean(g) - y.mean()) ** 2 for g in groups.values())
            raw[name] = float(math.sqrt(between / (np.var(y) * len(y))))
    total = sum(raw.values())
    return {k: (v / total if total else 0.0) for k, v in raw.items()}


def importance_figure(spec: ChartSpec):
    import plotly.graph_objects as go

    fig = go.Figure()
    for st in sorted(spec.data, key=lambda s: (model_key(s.model), s.name)):
        if len(st.params) < 3:
            continue
        imp = importance(st.params)
        fig.add_trace(go.Bar(x=list(imp), y=list(imp.values()), name=st.model, marker_color=model_colour(st.model)))
    layout(fig, spec.title, barmode="group", yaxis=dict(title="normalised importance"))
    return fig
