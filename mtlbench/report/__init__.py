"""Seesaw reports and the generated leaderboard (docs/protocol.md §5), torch-free.

One-way pipeline, one concern per module:

* **load** (``load``): records, study exports, utilisation exports → plain typed data; the one parse of
  provenance labels and the one place that makes the (label → record) views selection works on.
* **analyse** (``select``, ``stats``, ``compare``, ``ranking``, ``build``): pure functions → one ``Report``
  (``schema``).
* **render** (``markdown/``, ``findings/``, ``charts/``): read the ``Report``, never the files.
* **files** (``files``): paths, ``generate`` and ``check``.

Everything is a pure function of a profile's result files: the markdown never reads the clock or the
checkout, so regenerating it from the same files gives the same bytes and ``mtlbench leaderboard --check``
can prove a committed leaderboard is current. Nothing here imports torch or optuna (an import-linter
contract in pyproject.toml and ``tests/test_layers.py`` keep it so).
"""
from __future__ import annotations

import sys
import types

from ..names import suite_slug as slug
from .build import build_report
from .compare import build_suites, trials_used
from .files import (USER_DIR, ReportFiles, chart_dir, chart_link_prefix, check, generate, generate_all, leaderboard_path,
                    profiles_with_records, scopes_with_records)
from .scope import SCOPES, Scope, record_in_scope, records_in_scope
from .format import code, decimals, fnum, fp, human, md_table
from .load import (is_tuned, load_records, load_studies, load_utilisation, parse_source, record_views, source_label,
                   study_suite, utilisation_dir)
from .markdown import render_markdown
from .markdown.commands import _commands
from .markdown.header import _hardware
from .order import MODEL_ORDER, model_key, suite_key
from .ranking import ranking
from .schema import REFERENCE, Comparison, ModelResult, Report, Study, SuiteResult, TaskResult, Utilisation
from .select import select_records
from .stats import (ALPHA, BETTER, MARK, NA, NS, WORSE, beats_flag, gain, holm, relative_gain, seesaw_flag, test_score,
                    verdict, welch_p)

__all__ = [
    "ALPHA", "BETTER", "MARK", "MODEL_ORDER", "NA", "NS", "REFERENCE", "WORSE", "Comparison", "ModelResult", "Report",
    "ReportFiles", "SCOPES", "Scope", "Study", "USER_DIR", "generate_all", "record_in_scope", "records_in_scope",
    "scopes_with_records", "SuiteResult", "TaskResult", "Utilisation", "beats_flag", "build_report", "build_suites",
    "chart_dir", "chart_link_prefix", "check", "code", "decimals", "fnum", "fp", "gain", "generate", "holm", "human",
    "is_tuned", "leaderboard_path", "load_records", "load_studies", "load_utilisation", "md_table", "model_key",
    "parse_source", "profiles_with_records", "ranking", "record_views", "relative_gain", "render_markdown",
    "seesaw_flag", "select_records", "slug", "source_label", "study_suite", "suite_key", "test_score", "trials_used",
    "utilisation_dir", "verdict", "welch_p", "_commands", "_hardware",
]


class _CallableModule(types.ModuleType):
    """``mtlbench.report(profile)`` writes the reports, as ``mtlbench report`` does (``mtlbench.api.report``,
    which also checks suite files first)."""

    def __call__(self, profile: str | None = None, results_dir=None, charts: bool = True, static: bool = True) -> list[ReportFiles]:
        return [f for p in ([profile] if profile else profiles_with_records(results_dir))
                for f in generate_all(p, results_dir, charts=charts, static=static)]


sys.modules[__name__].__class__ = _CallableModule
