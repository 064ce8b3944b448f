"""Plotly charts of a report: interactive HTML (offline, plotly.js shipped beside it) and static PNGs.

Which charts exist and what they are called is decided by :func:`chart_specs` from the report alone,
so the leaderboard markdown can reference them by deterministic names without building a figure.
Static export goes through kaleido, which drives a Chromium-family browser (found on ``PATH`` or in
the usual places such as ``/usr/bin/chromium``; ``BROWSER_PATH`` overrides). Without a browser the
report degrades to HTML only with a one-line notice; a browser is never downloaded.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from html import escape
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .fsio import atomic_replace, atomic_write, temp_path

if TYPE_CHECKING:
    from .report import Report, SuiteResult

PNG_SIZE = (900, 560)
#: Colours per model, stable across charts (plotly's qualitative palette order).
PALETTE = ["#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692", "#B6E880", "#FF97FF",
           "#FECB52", "#7F7F7F"]


@dataclass
class ChartSpec:
    kind: str  # gain | sweep | utilisation | tuning | importance
    key: tuple
    name: str  # file stem, deterministic
    title: str
    caption: str
    embed: bool = True  # a static image embedded in the markdown
    data: Any = field(default=None, repr=False)


def model_colour(model: str) -> str:
    from .report import MODEL_ORDER

    i = MODEL_ORDER.index(model) if model in MODEL_ORDER else len(MODEL_ORDER) + sum(map(ord, model))
    return PALETTE[i % len(PALETTE)]


# ====================================================================== which charts
def _sweep_axis(points: list[SuiteResult]) -> str | None:
    """The one numeric parameter that varies across a sweep's points (e.g. ``p``)."""
    keys = sorted({k for s in points for k in s.params})
    varying = [k for k in keys if len({repr(s.params.get(k)) for s in points}) > 1]
    if len(varying) == 1 and all(isinstance(s.params.get(varying[0]), (int, float)) for s in points):
        return varying[0]
    return None


def chart_specs(rep: Report) -> list[ChartSpec]:
    from .report import slug, suite_key

    specs: list[ChartSpec] = []
    for s in rep.suites:
        ref = s.reference
        if ref is None or len(s.tasks) < 2 or len(s.models) < 2:
            continue
        a, b = s.tasks[0]["name"], s.tasks[1]["name"]
        more = f" (tasks {a} and {b} of {len(s.tasks)})" if len(s.tasks) > 2 else ""
        specs.append(ChartSpec(
            "gain", ("gain", s.suite), f"gain_{s.slug}", f"Gain vs gain on {s.suite}",
            f"*Relative gain over single-task on `{a}` (x) and `{b}` (y){more}, in %; error bars ±1 standard error "
            "of the gain (seeds and test set combined). Upper right: better on both tasks; lower left: worse on both; "
            "the other two quadrants: the seesaw.*",
            data=s))
    fams: dict[str, list[SuiteResult]] = {}
    for s in rep.suites:
        if s.is_sweep:
            fams.setdefault(s.family, []).append(s)
    for fam, points in fams.items():
        axis = _sweep_axis(points)
        if axis is None or len(points) < 2:
            continue
        specs.append(ChartSpec(
            "sweep", ("sweep", fam), f"sweep_{slug(fam)}", f"{fam}: test metric vs task correlation {axis}",
            f"*`{fam}` sweep: each model's test metric (mean ± std over seeds) against `{axis}`, one panel per task — "
            "the MMoE paper's view of how task correlation affects multi-task models.*",
            data=(axis, sorted(points, key=lambda s: s.params[axis]))))
    for u in rep.utilisation:
        specs.append(ChartSpec(
            "utilisation", ("util", u.suite, u.model), f"util_{u.slug}", f"{u.model} on {u.suite}",
            f"*Expert utilisation of `{u.model}` on `{u.suite}`.*", data=u))
    by_suite: dict[str, list] = {}
    for st in rep.studies:
        if st.values:
            by_suite.setdefault(st.suite or "?", []).append(st)
    for suite in sorted(by_suite, key=lambda x: suite_key(x) if x != "?" else ("",)):
        sts = by_suite[suite]
        specs.append(ChartSpec(
            "tuning", ("tuning", suite), f"tuning_{slug(suite)}", f"Tuning history on {suite}",
            f"*Tuning on `{suite}`: validation objective of each completed trial (dots) and the best so far (lines), per model.*",
            data=sts))
        if any(len(st.params) >= 3 for st in sts):
            specs.append(ChartSpec(
                "importance", ("importance", suite), f"importance_{slug(suite)}", f"Parameter importance on {suite}",
                "Screening importance of each hyper-parameter: |Spearman ρ| (numeric) or the correlation ratio η "
                "(categorical) between its value and the validation objective over completed trials, normalised per model.",
                embed=False, data=sts))
    return specs


# ====================================================================== figures
def build_figure(spec: ChartSpec):
    return {"gain": _gain_fig, "sweep": _sweep_fig, "utilisation": _util_fig, "tuning": _tuning_fig,
            "importance": _importance_fig}[spec.kind](spec)


def _layout(fig, title: str, **kw) -> None:
    fig.update_layout(title=dict(text=title, x=0.02), template="plotly_white", font=dict(size=13),
                      margin=dict(l=70, r=30, t=70, b=60), **kw)


def _gain_fig(spec: ChartSpec):
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
            se = math.sqrt((c.se_seeds or 0.0) ** 2 + (c.se_test if math.isfinite(c.se_test) else 0.0) ** 2)
            errs.append(100.0 * se / abs(t.mean) if t.mean else 0.0)
        pts.append((m.model, c0.rel_gain, c1.rel_gain, errs[0], errs[1], f"{c0.verdict} / {c1.verdict}"))
    def extent(i: int) -> float:
        vals = [abs(p[1 + i]) + p[3 + i] for p in pts if math.isfinite(p[1 + i])]
        return max(vals + [0.1]) * 1.2

    ex_, ey_ = extent(0), extent(1)
    fig = go.Figure()
    quads = [(0, ex_, 0, ey_, "rgba(0,160,80,0.10)", "better on both"),
             (-ex_, 0, -ey_, 0, "rgba(220,50,50,0.10)", "worse on both"),
             (-ex_, 0, 0, ey_, "rgba(240,180,0,0.12)", "seesaw"),
             (0, ex_, -ey_, 0, "rgba(240,180,0,0.12)", "seesaw")]
    for x0, x1, y0, y1, colour, label in quads:
        fig.add_shape(type="rect", x0=x0, x1=x1, y0=y0, y1=y1, fillcolor=colour, line_width=0, layer="below")
        fig.add_annotation(x=(x0 + x1) / 2, y=y1 - ey_ * 0.06 if y1 > 0 else y0 + ey_ * 0.06, text=label,
                           showarrow=False, font=dict(color="#555", size=12))
    for model, x, y, ex, ey, verdicts in pts:
        fig.add_trace(go.Scatter(
            x=[x], y=[y], mode="markers", name=model, marker=dict(size=12, color=model_colour(model)),
            error_x=dict(type="data", array=[ex], visible=True), error_y=dict(type="data", array=[ey], visible=True),
            hovertemplate=f"{model}<br>{s.tasks[0]['name']}: %{{x:.3f}}%<br>{s.tasks[1]['name']}: %{{y:.3f}}%<br>{verdicts}<extra></extra>"))
    _layout(fig, spec.title, showlegend=True,
            xaxis=dict(title=f"{s.tasks[0]['name']}: relative gain over single-task (%)", range=[-ex_, ex_],
                       zeroline=True, zerolinecolor="#444"),
            yaxis=dict(title=f"{s.tasks[1]['name']}: relative gain over single-task (%)", range=[-ey_, ey_],
                       zeroline=True, zerolinecolor="#444"))
    return fig


def _sweep_fig(spec: ChartSpec):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    axis, points = spec.data
    tasks = points[0].tasks
    fig = make_subplots(rows=1, cols=len(tasks), subplot_titles=[f"{t['name']} (test {t['metric'].upper()})" for t in tasks])
    from .report import model_key

    models = sorted({m.model for s in points for m in s.models}, key=model_key)
    for model in models:
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
                                     line=dict(color=model_colour(model)),
                                     error_y=dict(type="data", array=es, visible=True)), row=1, col=k + 1)
        for k, t in enumerate(tasks):
            fig.update_xaxes(title_text=f"task correlation {axis}", row=1, col=k + 1)
            fig.update_yaxes(title_text=f"test {t['metric'].upper()}", row=1, col=k + 1)
    _layout(fig, spec.title)
    return fig


def _util_fig(spec: ChartSpec):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from .utilisation import as_float_matrix

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
    _layout(fig, f"Expert utilisation: {spec.title}<br><sup>mean ± std over the test set of the weight each gate "
                 "puts on each expert; blank: not connected</sup>")
    fig.update_layout(margin=dict(t=100))
    return fig


def _tuning_fig(spec: ChartSpec):
    import plotly.graph_objects as go

    from .report import model_key

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
    _layout(fig, spec.title, xaxis=dict(title="trial number"), yaxis=dict(title="validation objective"))
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


def _importance_fig(spec: ChartSpec):
    import plotly.graph_objects as go

    from .report import model_key

    fig = go.Figure()
    for st in sorted(spec.data, key=lambda s: (model_key(s.model), s.name)):
        if len(st.params) < 3:
            continue
        imp = importance(st.params)
        fig.add_trace(go.Bar(x=list(imp), y=list(imp.values()), name=st.model, marker_color=model_colour(st.model)))
    _layout(fig, spec.title, barmode="group", yaxis=dict(title="normalised importance"))
    return fig


# ====================================================================== writing
HTML_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<script>
window.__scriptErrors = [];
window.addEventListener("error", function (e) {{
  window.__scriptErrors.push(String(e.message || e));
  document.documentElement.setAttribute("data-script-errors", String(window.__scriptErrors.length));
}});
</script>
<script charset="utf-8" src="plotly.min.js"></script>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
.chart {{ margin: 1.5em 0 3em; }} .caption {{ color: #555; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>Generated by <code>mtlbench report</code> from the result records. Works offline: plotly.js is the file next to this page.</p>
<ul>
{toc}
</ul>
"""


def _strip_md(s: str) -> str:
    s = escape(s, quote=False)
    s = re.sub(r"`([^`]*)`", r"<code>\1</code>", s)
    return s.replace("*", "")


def write_html(rep: Report, specs: list[ChartSpec], figs: list, out_dir: Path) -> Path:
    import plotly
    from plotly.offline import get_plotlyjs

    out_dir.mkdir(parents=True, exist_ok=True)
    js = out_dir / "plotly.min.js"
    stamp = out_dir / ".plotly-version"
    if not js.exists() or not stamp.exists() or stamp.read_text() != plotly.__version__:
        atomic_write(js, get_plotlyjs())
        atomic_write(stamp, plotly.__version__)
    title = escape(f"mtlbench report — profile {rep.profile}")
    toc = "\n".join(f'<li><a href="#sec_{s.name}">{escape(s.title)}</a></li>' for s in specs)
    parts = [HTML_HEAD.format(title=title, toc=toc)]
    if not specs:
        parts.append("<p>No charts: the records hold no comparison to draw yet.</p>\n")
    for spec, fig in zip(specs, figs):
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=spec.name,
                          config={"displaylogo": False, "responsive": True})
        parts.append(f'<section class="chart" id="sec_{spec.name}">\n<h2>{escape(spec.title)}</h2>\n'
                     f'<p class="caption">{_strip_md(spec.caption)}</p>\n{div}\n</section>\n')
    parts.append("</body>\n</html>\n")
    path = out_dir / "report.html"
    atomic_write(path, "".join(parts))
    return path




def find_browser() -> str | None:
    """A Chromium-family browser kaleido can drive (``BROWSER_PATH`` first), or None. Never downloads."""
    env = os.environ.get("BROWSER_PATH")
    if env:
        return env if os.access(env, os.X_OK) else None
    try:
        from choreographer.browsers.chromium import Chromium

        return Chromium.find_browser(skip_local=False)
    except Exception:  # noqa: BLE001 - choreographer missing or broken: look on PATH ourselves
        for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
            if p := shutil.which(name):
                return p
    return None


def write_static(specs: list[ChartSpec], figs: list, out_dir: Path) -> tuple[list[Path], str | None]:
    """PNGs of the embedded charts through kaleido in one browser session; (paths, notice).

    An image whose figure is unchanged since it was drawn (``.static-manifest.json``) is not drawn again;
    ``MTLBENCH_STATIC_CHARTS=0`` skips the export (HTML only)."""
    wanted = [(s, f) for s, f in zip(specs, figs) if s.embed]
    if not wanted:
        return [], None
    manifest_path = out_dir / ".static-manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        manifest = {}
    digests = {s.name: hashlib.sha256((f.to_json() + repr(_png_size(s))).encode()).hexdigest()[:20] for s, f in wanted}
    todo = [(s, f) for s, f in wanted if manifest.get(s.name) != digests[s.name] or not (out_dir / f"{s.name}.png").exists()]
    done = [out_dir / f"{s.name}.png" for s, _ in wanted]
    if not todo:  # every image is already drawn from exactly this figure
        return done, None
    if os.environ.get("MTLBENCH_STATIC_CHARTS", "1") == "0":
        return [], "static charts skipped (MTLBENCH_STATIC_CHARTS=0); the interactive HTML report was written."
    browser = find_browser()
    if browser is None:
        return [], ("static charts skipped: no Chromium-family browser found (install one, e.g. `apt-get install chromium` "
                    "or .ci/browser.sh, or set BROWSER_PATH); the interactive HTML report was written.")
    try:
        import kaleido
    except ImportError:
        return [], "static charts skipped: kaleido is not installed (pip install 'mtlbench[charts]'); the HTML report was written."
    paths = [out_dir / f"{s.name}.png" for s, _ in todo]
    jobs = []
    tmp = []
    for (s, fig), p in zip(todo, paths):
        t = temp_path(p)
        tmp.append(t)
        w, h = _png_size(s)
        jobs.append(dict(fig=fig.to_dict(), path=str(t), opts=dict(format="png", width=w, height=h, scale=1)))
    old = os.environ.get("BROWSER_PATH")
    try:
        os.environ["BROWSER_PATH"] = browser
        kaleido.write_fig_from_object_sync(jobs, kopts={"mathjax": False})  # no CDN: plotly.js comes from the package
        for t, p in zip(tmp, paths):
            atomic_replace(t, p)
        manifest = {k: v for k, v in manifest.items() if k in digests} | {s.name: digests[s.name] for s, _ in todo}
        atomic_write(manifest_path, json.dumps(manifest, sort_keys=True, indent=1) + "\n")
    except Exception as err:  # noqa: BLE001 - a broken browser must not lose the report: degrade to HTML
        for t in tmp:
            t.unlink(missing_ok=True)
        return [], f"static charts skipped: the browser failed ({err.__class__.__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}); the HTML report was written."
    finally:
        if old is None:
            os.environ.pop("BROWSER_PATH", None)
        else:
            os.environ["BROWSER_PATH"] = old
    return done, None


def _png_size(spec: ChartSpec) -> tuple[int, int]:
    w, h = PNG_SIZE
    if spec.kind == "utilisation":
        w = max(w, 420 * len(spec.data.banks))
    return w, h


@contextmanager
def _stdlib_json():
    """Serialise figures with the standard library's json, not orjson where it happens to be installed
    (orjson escapes differently): the same records give byte-identical charts on every machine."""
    import plotly.io as pio

    engine = pio.json.config.default_engine
    pio.json.config.default_engine = "json"
    try:
        yield
    finally:
        pio.json.config.default_engine = engine


def write_charts(rep: Report, out_dir: Path, static: bool = True) -> tuple[Path, list[Path], str | None]:
    """Write ``report.html`` (+ ``plotly.min.js``) and, with ``static``, a PNG per embedded chart."""
    specs = chart_specs(rep)
    with _stdlib_json():
        figs = [build_figure(s) for s in specs]
        html = write_html(rep, specs, figs, out_dir)
        images, notice = write_static(specs, figs, out_dir) if static else ([], None)
    return html, images, notice


# ====================================================================== checking in a browser
def browser_errors(html: Path, browser: str | None = None, timeout: float = 60.0) -> tuple[list[str], int]:
    """Open ``html`` in headless Chromium; return (script errors, number of plotly charts rendered)."""
    browser = browser or find_browser()
    if browser is None:
        raise RuntimeError("no Chromium-family browser found")
    with tempfile.TemporaryDirectory() as profile_dir:
        res = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
             f"--user-data-dir={profile_dir}", "--virtual-time-budget=10000", "--dump-dom", html.resolve().as_uri()],
            capture_output=True, text=True, timeout=timeout)
    errors = [ln for ln in res.stderr.splitlines() if "CONSOLE" in ln and ("Uncaught" in ln or "Error" in ln)]
    m = re.search(r'data-script-errors="(\d+)"', res.stdout)
    if m:
        errors.append(f"{m.group(1)} error event(s) caught by the page")
    rendered = len(re.findall(r'class="[^"]*js-plotly-plot', res.stdout))
    return errors, rendered
