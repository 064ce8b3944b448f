"""Tuning charts of one suite: each study's trial history, and a screening importance of its parameters."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..order import model_key
from .specs import ChartSpec, layout, model_colour, model_marker


def history_figure(spec: ChartSpec):
    import plotly.graph_objects as go

    fig = go.Figure()
    for st in sorted(spec.data, key=lambda s: (model_key(s.model), s.name)):
        values = sorted(st.values)
        xs = [n for n, _ in values]
        ys = [v for _, v in values]
        acc = np.maximum.accumulate if st.direction.startswith("max") else np.minimum.accumulate
        best = acc(ys) if ys else np.asarray([])
        colour = model_colour(st.model)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=f"{st.model} trials", legendgroup=st.model,
                                 showlegend=False, marker=dict(color=colour, size=7, opacity=0.55, symbol=model_marker(st.model)),
                                 hovertemplate=f"{st.model} trial %{{x}}: %{{y:.4f}}<extra></extra>"))
        if st.pruned_values:
            px, py = zip(*sorted(st.pruned_values))
            fig.add_trace(go.Scatter(x=list(px), y=list(py), mode="markers", name=f"{st.model} pruned", legendgroup=st.model,
                                     showlegend=False, marker=dict(color=colour, size=7, opacity=0.55, symbol="x-thin",
                                                                   line=dict(width=2, color=colour)),
                                     hovertemplate=f"{st.model} trial %{{x}} pruned at %{{y:.4f}}<extra></extra>"))
        if st.reference is not None and st.reference[1] is not None:
            fig.add_trace(go.Scatter(x=[st.reference[0]], y=[st.reference[1]], mode="markers", name=f"{st.model} defaults",
                                     legendgroup=st.model, showlegend=False,
                                     marker=dict(color=colour, size=13, symbol=model_marker(st.model) + "-open", line=dict(width=2)),
                                     hovertemplate=f"{st.model} reference trial %{{x}} (defaults): %{{y:.4f}}<extra></extra>"))
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=best.tolist(), mode="lines", name=st.model, legendgroup=st.model,
                                     line=dict(color=colour, shape="hv")))
    numbers = [n for st in spec.data for n, _ in [*st.values, *st.pruned_values, *([st.reference] if st.reference else [])]]
    step = max(1, math.ceil((max(numbers, default=0) + 1) / 12))  # integer trial numbers, at most ~12 ticks
    layout(fig, spec.title, xaxis=dict(title="trial number", tickmode="linear", tick0=0, dtick=step, tickformat="d"),
           yaxis=dict(title="validation objective"))
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
