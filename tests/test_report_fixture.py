"""The leaderboard of a fixed set of real records (``tests/fixtures/report/``, written by its
``make_fixtures.py``), compared byte for byte with ``expected.md``. After an intended change of the output,
regenerate it from the repository root and review the diff:

    python -c "import sys; from mtlbench.report import build_report as b, render_markdown as r; sys.stdout.write(r(b('standard', 'tests/fixtures/report/results')))" > tests/fixtures/report/expected.md
"""
from __future__ import annotations

from pathlib import Path

from mtlbench.report import build_report, render_markdown

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "report"


def test_fixture_records_render_to_the_expected_markdown():
    text = render_markdown(build_report("standard", FIXTURE / "results"))
    expected = (FIXTURE / "expected.md").read_text()
    if text != expected:
        a, b = expected.splitlines(), text.splitlines()
        line = next((i for i, (x, y) in enumerate(zip(a, b), 1) if x != y), min(len(a), len(b)) + 1)
        raise AssertionError(f"the report of tests/fixtures/report differs from expected.md first at line {line}:\n"
                             f"expected: {a[line - 1] if line <= len(a) else '<end>'}\n"
                             f"got:      {b[line - 1] if line <= len(b) else '<end>'}")


def test_fixture_covers_every_section():
    text = (FIXTURE / "expected.md").read_text()
    for heading in ("## Overall ranking with default hyper-parameters", "left out of every finding: `census_income[group=1]`",
                    "### Video (VCR/VTR): the seesaw", "### Expert utilisation: do the tasks use", "## Tuning",
                    "### How much does tuning change the ranking?", "**How sure is this ranking?**",
                    "## Convergence and protocol", "**under-trained: conclusions withheld**",
                    "### Matched default configurations", "### Score sensitivity to saturated tasks", "## The MMoE synthetic experiment", "ctcvr AUC",
                    "two-level paired bootstrap", "Welch over seeds", "trained epochs", "| tuning rules "):
        assert heading in text, heading


def test_fixture_charts_include_the_new_kinds():
    from mtlbench.report.charts import build_figure, chart_specs

    specs = chart_specs(build_report("standard", FIXTURE / "results"))
    kinds = {s.kind for s in specs}
    assert {"exp_curves", "exp_final"} <= kinds
    for s in specs:
        if s.kind.startswith("exp_"):
            assert build_figure(s).data  # the figure draws
