"""A sweep family's test metric per model against the swept parameter, one panel per task."""
from __future__ import annotations

from ..order import model_key
from .specs import FAINT, ChartSpec, highlighted, layout, model_colour, model_marker


def figure(spec: ChartSpec):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    axis, points = spec.data
    tasks = points[0].tasks
    fig = make_subplots(rows=1, cols=len(tasks), subplot_titles=[f"{t['name']} (test {t['metric'].upper()})" for t in tasks])
    models = sorted({m.model for s in points for m in s.models}, key=model_key)
    scores: dict[str, list[float]] = {}
    for s in points:
        for m in s.models:
            scores.setdefault(m.model, []).append(m.score)
    shown = highlighted(models, {m: sum(v) / len(v) for m, v in scores.items()})
    for model in models:
        full = model in shown  # a crowded panel: error bars and full colour for the best models only
        for k, _ in enumerate(tasks):
            xs, ys, es = [], [], []
            for s in points:
                m = next((m for m in s.models if m.model == model), None)
                if m is None:
                    continue
                xs.append(s.params[axis])
                ys.append(m.tasks[k].mean)
                es.append(m.tasks[k].std or 0.0)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=model, legendgroup=model, showlegend=k == 0,
                                     opacity=1.0 if full else FAINT, line=dict(color=model_colour(model), width=2 if full else 1),
                                     marker=dict(symbol=model_marker(model), size=8 if full else 5, color=model_colour(model)),
                                     error_y=dict(type="data", array=es, visible=full)), row=1, col=k + 1)
        for k, t in enumerate(tasks):
            fig.update_xaxes(title_text=f"task correlation {axis}", row=1, col=k + 1)
            fig.update_yaxes(title_text=f"test {t['metric'].upper()}", row=1, col=k + 1)
    layout(fig, spec.title)
    return fig
