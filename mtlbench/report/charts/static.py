"""Static PNGs of the embedded charts through kaleido, which drives a Chromium-family browser (found on
``PATH`` or in the usual places such as ``/usr/bin/chromium``; ``BROWSER_PATH`` overrides). Without a
browser the report degrades to HTML only with a one-line notice; a browser is never downloaded."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ...fsio import atomic_replace, atomic_write, temp_path
from .specs import ChartSpec, png_size


def png_digests(specs: list[ChartSpec], figs: list) -> dict[str, str]:
    """Per embedded chart, the digest of exactly what its PNG is drawn from (``.static-manifest.json``)."""
    return {s.name: hashlib.sha256((f.to_json() + repr(png_size(s))).encode()).hexdigest()[:20]
            for s, f in zip(specs, figs) if s.embed}


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
    digests = png_digests([s for s, _ in wanted], [f for _, f in wanted])
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
        w, h = png_size(s)
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
