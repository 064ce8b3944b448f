"""``build_report``: a profile's result files → one typed ``Report`` (load, select, compare)."""
from __future__ import annotations

from pathlib import Path

from .. import reproductions
from ..errors import MtlbenchError
from ..profiles import get_profile
from ..records import profile_dir
from .compare import build_suites
from .convergence import convergence
from .curves import learning_curves
from .experiment import analyse_experiment
from .load import is_tuned, load_experiment, load_records, load_studies, load_utilisation, record_views
from .schema import Report
from .scope import Scope, is_user_record, records_in_scope, studies_in_scope, utilisation_in_scope
from .select import select_records
from .weighting import analyse_weightings


def build_report(profile: str, results_dir: str | Path | None = None, scope: Scope = "official") -> Report:
    """Everything the renderers need, computed from the profile's records, study and utilisation exports of
    ``scope`` (``report.scope``: the official leaderboard's registered suites, or the user's suites and
    ``--set`` runs)."""
    get_profile(profile)  # unknown profile: one-line error with did-you-mean
    every = load_records(profile, results_dir)
    all_records = records_in_scope(every, scope)
    if not all_records:
        where = profile_dir(profile, results_dir) / "records"
        what = ("of the registered suites" if scope == "official" else
                "of user suites (--suite-file) or of runs with --set")
        if every:
            raise MtlbenchError(f"no result records {what} for profile {profile!r} in {where}; the records there belong "
                                f"to the {'user' if scope == 'official' else 'official'} report.")
        raise MtlbenchError(f"no result records for profile {profile!r} in {where}; "
                            f"run e.g. `mtlbench run --all --profile {profile}` first (or pass --results-dir).")
    user_suites = {r["suite"] for r in every if is_user_record(r)}
    official_suites = {r["suite"] for r in records_in_scope(every, "official")}
    studies = studies_in_scope(load_studies(profile, results_dir), scope, user_suites, official_suites)
    views = record_views(all_records)
    chosen, notices = select_records(views, "best")
    if not chosen:  # every record trained with another loss weighting: nothing to compare them with
        raise MtlbenchError(f"the records of profile {profile!r} were all trained with a loss weighting other than static; "
                            "the report compares them with static runs of single_task and the same architecture: run "
                            "e.g. `mtlbench run single_task MODEL --suite SUITE` first.")
    suites = build_suites(chosen, studies)
    rep = Report(profile, suites, chosen, all_records, notices, studies,
                 utilisation_in_scope(load_utilisation(profile, results_dir), scope, user_suites), scope=scope)
    defaults, _ = select_records(views, "default")
    rep.default_records = defaults
    if defaults and any(is_tuned(r["params_source"]) for r in chosen):
        rep.default_suites = build_suites(defaults, studies)
    rep.convergence = convergence(chosen + defaults)
    rep.curves = learning_curves(chosen)
    rep.weightings, notices = analyse_weightings(views, chosen)
    rep.notices += notices
    rep.experiment = analyse_experiment(load_experiment(profile, results_dir)) if scope == "official" else None
    keys = {r["key"] for r in all_records}
    rep.reproductions = [c for c in reproductions.load(profile, results_dir) if c.key in keys]
    return rep
