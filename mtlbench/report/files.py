"""Where a profile's report files live, writing them (``generate``) and checking the committed leaderboard
(``check``): the top of the report pipeline (load → analyse → render → files)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import MtlbenchError
from ..fsio import atomic_write, finished
from ..profiles import PROFILES
from ..records import profile_dir, results_root
from .build import build_report
from .charts import write_charts
from .load import load_records
from .markdown import render_markdown
from .scope import SCOPES, Scope, records_in_scope

#: The user report's folder under ``results/<profile>/`` (its markdown and its charts).
USER_DIR = "user"


def _base(profile: str, results_dir: str | Path | None, scope: Scope) -> Path:
    return profile_dir(profile, results_dir) / USER_DIR if scope == "user" else profile_dir(profile, results_dir)


def chart_dir(profile: str, results_dir: str | Path | None = None, scope: Scope = "official") -> Path:
    return _base(profile, results_dir, scope) / "charts"


def scopes_with_records(profile: str, results_dir: str | Path | None = None) -> list[Scope]:
    """The report scopes (official, user) that have at least one record of ``profile``."""
    records = load_records(profile, results_dir)
    return [sc for sc in SCOPES if records_in_scope(records, sc)]


def profiles_with_records(results_dir: str | Path | None = None, scope: Scope | None = None) -> list[str]:
    """Profiles whose records folder holds at least one record (of ``scope`` when given), in PROFILES order."""
    found = [p for p in PROFILES if finished(profile_dir(p, results_dir) / "records")]
    if scope is not None:
        found = [p for p in found if scope in scopes_with_records(p, results_dir)]
    if not found:
        raise MtlbenchError(f"no result records under {results_root(results_dir)}; run e.g. `mtlbench run --all --profile quick` "
                            "first, or pass --results-dir / --profile.")
    return found


def leaderboard_path(profile: str, results_dir: str | Path | None = None, scope: Scope = "official") -> Path:
    """Official scope, standard profile: the top-level ``leaderboard.md`` (next to the results folder); any
    other profile: ``results/<profile>/leaderboard.md`` (never the top-level one). User scope (user suites and
    ``--set`` runs): ``results/<profile>/user/leaderboard.md``."""
    root = results_root(results_dir)
    if profile == "standard" and scope == "official":
        return root.absolute().parent / "leaderboard.md"
    return _base(profile, results_dir, scope) / "leaderboard.md"


def chart_link_prefix(profile: str, results_dir: str | Path | None = None, scope: Scope = "official") -> str:
    """Path of the charts folder relative to the leaderboard file (posix, deterministic)."""
    rel = os.path.relpath(chart_dir(profile, results_dir, scope).absolute(), leaderboard_path(profile, results_dir, scope).parent)
    return Path(rel).as_posix()


@dataclass
class ReportFiles:
    markdown: Path
    html: Path | None
    images: list[Path]
    notice: str | None


def generate(profile: str, results_dir: str | Path | None = None, charts: bool = True, static: bool = True,
             scope: Scope = "official") -> ReportFiles:
    """Write the profile's report of ``scope`` (markdown and, with ``charts``, its HTML report and static images)."""
    rep = build_report(profile, results_dir, scope)
    md_path = leaderboard_path(profile, results_dir, scope)
    text = render_markdown(rep, chart_link_prefix(profile, results_dir, scope))
    html, images, notice = None, [], None
    if charts:
        html, images, notice = write_charts(rep, chart_dir(profile, results_dir, scope), static=static)
    atomic_write(md_path, text)
    return ReportFiles(md_path, html, images, notice)


def generate_all(profile: str, results_dir: str | Path | None = None, charts: bool = True, static: bool = True,
                 scopes: list[Scope] | None = None) -> list[ReportFiles]:
    """Write the reports of ``scopes`` (default: every scope with records) of a profile: the official leaderboard
    and the user report are separate files, so user results never change the leaderboard."""
    have = scopes_with_records(profile, results_dir)
    todo = [sc for sc in (scopes or SCOPES) if sc in have]
    if not todo:
        build_report(profile, results_dir, (scopes or ["official"])[0])  # raises the one-line "no records" error
    return [generate(profile, results_dir, charts, static, sc) for sc in todo]


def check(profile: str, results_dir: str | Path | None = None) -> tuple[bool, str]:
    """Regenerate the official leaderboard's markdown in memory (no charts, no browser) and compare it with the
    file. Records of user suites and ``--set`` runs are not part of it (``report.scope``)."""
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
