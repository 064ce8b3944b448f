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
    for heading in ("## Overall ranking with default hyper-parameters", "### Census-income: the papers and torch-rechub",
                    "### Video (VCR/VTR): the seesaw", "### Expert utilisation: do the tasks use", "## Tuning",
                    "### How much does tuning change the ranking?"):
        assert heading in text, heading
