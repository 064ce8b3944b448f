"""``build_report``: a profile's result files → one typed ``Report`` (load, select, compare)."""
from __future__ import annotations

from pathlib import Path

from ..errors import MtlbenchError
from ..profiles import get_profile
from ..records import profile_dir
from .compare import build_suites
from .convergence import convergence
from .experiment import analyse_experiment
from .load import is_tuned, load_experiment, load_records, load_studies, load_utilisation, record_views
from .schema import Report
from .select import select_records


def build_report(profile: str, results_dir: str | Path | None = None) -> Report:
    """Everything the renderers need, computed from the profile's records, study and utilisation exports."""
    get_profile(profile)  # unknown profile: one-line error with did-you-mean
    all_records = load_records(profile, results_dir)
    if not all_records:
        where = profile_dir(profile, results_dir) / "records"
        raise MtlbenchError(f"no result records for profile {profile!r} in {where}; "
                            f"run e.g. `mtlbench run --all --profile {profile}` first (or pass --results-dir).")
    studies = load_studies(profile, results_dir)
    views = record_views(all_records)
    chosen, notices = select_records(views, "best")
    suites = build_suites(chosen, studies)
    rep = Report(profile, suites, chosen, all_records, notices, studies, load_utilisation(profile, results_dir))
    defaults, _ = select_records(views, "default")
    rep.default_records = defaults
    if defaults and any(is_tuned(r["params_source"]) for r in chosen):
        rep.default_suites = build_suites(defaults, studies)
    rep.convergence = convergence(chosen + defaults)
    rep.experiment = analyse_experiment(load_experiment(profile, results_dir))
    return rep
