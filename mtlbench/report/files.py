"""Where a profile's report files live, writing them (``generate``) and checking the committed leaderboard
(``check``): the top of the report pipeline (load → analyse → render → files)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import MtlbenchError
from ..fsio import atomic_write
from ..profiles import PROFILES
from ..records import profile_dir, results_root
from .build import build_report
from .charts import write_charts
from .markdown import render_markdown


def chart_dir(profile: str, results_dir: str | Path | None = None) -> Path:
    return profile_dir(profile, results_dir) / "charts"


def profiles_with_records(results_dir: str | Path | None = None) -> list[str]:
    """Profiles whose records folder holds at least one record (in the order of PROFILES)."""
    found = [p for p in PROFILES if any((profile_dir(p, results_dir) / "records").glob("*.json"))]
    if not found:
        raise MtlbenchError(f"no result records under {results_root(results_dir)}; run e.g. `mtlbench run --all --profile quick` "
                            "first, or pass --results-dir / --profile.")
    return found


def leaderboard_path(profile: str, results_dir: str | Path | None = None) -> Path:
    """Standard profile: the top-level ``leaderboard.md`` (next to the results folder); any other
    profile: ``results/<profile>/leaderboard.md`` (never the top-level one)."""
    root = results_root(results_dir)
    if profile == "standard":
        return root.absolute().parent / "leaderboard.md"
    return profile_dir(profile, results_dir) / "leaderboard.md"


def chart_link_prefix(profile: str, results_dir: str | Path | None = None) -> str:
    """Path of the charts folder relative to the leaderboard file (posix, deterministic)."""
    rel = os.path.relpath(chart_dir(profile, results_dir).absolute(), leaderboard_path(profile, results_dir).parent)
    return Path(rel).as_posix()


@dataclass
class ReportFiles:
    markdown: Path
    html: Path | None
    images: list[Path]
    notice: str | None


def generate(profile: str, results_dir: str | Path | None = None, charts: bool = True, static: bool = True) -> ReportFiles:
    """Write the profile's leaderboard markdown and (``charts``) its HTML report and static images."""
    rep = build_report(profile, results_dir)
    md_path = leaderboard_path(profile, results_dir)
    text = render_markdown(rep, chart_link_prefix(profile, results_dir))
    html, images, notice = None, [], None
    if charts:
        html, images, notice = write_charts(rep, chart_dir(profile, results_dir), static=static)
    atomic_write(md_path, text)
    return ReportFiles(md_path, html, images, notice)


def check(profile: str, results_dir: str | Path | None = None) -> tuple[bool, str]:
    """Regenerate the markdown in memory (no charts, no browser) and compare it with the file."""
    path = leaderboard_path(profile, results_dir)
    text = render_markdown(build_report(profile, results_dir), chart_link_prefix(profile, results_dir))
    if not path.exists():
        return False, f"{path} does not exist; run `mtlbench report --profile {profile}` and commit it."
    current = path.read_text()
    if current == text:
        return True, f"{path} is up to date with the records of profile {profile}."
    a, b = current.splitlines(), text.splitlines()
    line = next((i for i, (x, y) in enumerate(zip(a, b), 1) if x != y), min(len(a), len(b)) + 1)
    return False, (f"{path} differs from what the records give (first at line {line}); it was edited by hand or is stale: "
                   f"run `mtlbench report --profile {profile}` and commit the result.")
