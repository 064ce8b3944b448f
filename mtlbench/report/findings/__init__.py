"""“Does it reproduce?”: the leaderboard's comparison with the papers and a same-protocol peer.

Every number is computed from the report's suites; the published values are declared by their suites
(``SuiteMeta.published``). A finding is checked with the report's own statistics (the suite tables' verdicts:
paired bootstrap or Welch over seeds, Holm-corrected per suite) plus a rank correlation for the synthetic sweep;
two models' difference in a statistic (CGC vs PLE, tuned vs default, the sweep's gap) by the same rule
(``common.difference_p``). One module per finding, each a pure function
``Report → markdown lines`` (empty when the report holds nothing to check); ``FINDINGS`` is their order.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..schema import Report
from .census import _census
from .cgc_vs_ple import _cgc_ple
from .sweep import _sweep
from .tuning import _tuning_ranking
from .utilisation import _utilisation
from .video import _video

#: The findings in the order they appear; add one by appending its ``Report -> list[str]`` function.
FINDINGS: tuple[Callable[[Report], list[str]], ...] = (
    lambda rep: _census(rep.suites), _sweep, lambda rep: _video(rep.suites), _utilisation, _cgc_ple, _tuning_ranking,
)


def without_withheld(rep: Report) -> Report:
    """The report with the suites flagged under-trained (``Report.withheld``) taken out of its comparisons."""
    keep = lambda suites: [s for s in suites if s.suite not in rep.withheld]  # noqa: E731
    return replace(rep, suites=keep(rep.suites), default_suites=keep(rep.default_suites) if rep.default_suites else None)


def render_findings(rep: Report) -> list[str]:
    """The "Does it reproduce?" section (nothing when no finding applies); suites flagged under-trained take
    no part in its conclusions."""
    body = [line for finding in FINDINGS for line in finding(without_withheld(rep))]
    withheld = sorted({s.suite for s in rep.suites} & rep.withheld)
    note = ([f"Suites flagged under-trained (see *Convergence and protocol*) are left out of every finding: "
             f"{', '.join(f'`{s}`' for s in withheld)}.", ""] if withheld else [])
    return ["## Does it reproduce?", "",
            "Published findings checked against this leaderboard's own numbers (computed from the records; "
            "model selection used validation data only). A difference that is not significant is reported as "
            "“no detectable difference”, never as a ranking.", "", *note, *body] if body or note else []
