"""Which results a report covers. The **official** report (the leaderboard) covers the benchmark's own suites
at the parameters the protocol gives them; the **user** report covers everything else: suites read from
``--suite-file`` TOMLs, and runs of any suite with ``--set`` overrides. A record belongs to a scope through
its suite family and its provenance labels, so running your own data never changes the leaderboard."""
from __future__ import annotations

from typing import Any, Literal

from ..metadata import is_registered_suite
from .load import Study, Utilisation

Scope = Literal["official", "user"]
SCOPES: tuple[Scope, ...] = ("official", "user")
OVERRIDE_MARK = "+set:"  # how a provenance label spells --set overrides (``provenance.ParamsSource``)


def _official_label(label: str) -> bool:
    return OVERRIDE_MARK not in label


def is_user_record(r: dict[str, Any]) -> bool:
    """A record of a suite read from a suite file (``tasks/user_file.py`` keeps its path in ``suite_params``)."""
    params = r.get("suite_params")
    return isinstance(params, dict) and bool(params.get("suite_file"))


def record_in_scope(r: dict[str, Any], scope: Scope) -> dict[str, Any] | None:
    """The record as ``scope`` sees it (only the labels that belong to it), or None when none does. A user
    suite's record belongs to the user scope with every label; a registered suite's record belongs to the
    official scope with its labels without overrides and to the user scope with its override labels."""
    labels = list(r.get("params_sources") or [r["params_source"]])
    if is_user_record(r):
        kept = labels if scope == "user" else []
    else:
        kept = [lb for lb in labels if _official_label(lb) == (scope == "official")]
    if not kept:
        return None
    if kept == labels:
        return r
    return {**r, "params_sources": kept, "params_source": kept[0]}


def records_in_scope(records: list[dict[str, Any]], scope: Scope) -> list[dict[str, Any]]:
    return [v for r in records if (v := record_in_scope(r, scope)) is not None]


def _suite_family(suite: str) -> str:
    return suite.split("[", 1)[0]


def studies_in_scope(studies: list[Study], scope: Scope, user_suites: set[str], official_suites: set[str]) -> list[Study]:
    """A study belongs to the user scope when its suite is one of ``user_suites`` (the suites of user records),
    or when it is neither a registered suite nor the suite of an official record (a user suite tuned before any
    run); otherwise to the official scope."""
    def user(st: Study) -> bool:
        return st.suite in user_suites or (st.suite not in official_suites
                                           and not is_registered_suite(_suite_family(st.suite or "")))
    return [st for st in studies if user(st) == (scope == "user")]


def utilisation_in_scope(utilisation: list[Utilisation], scope: Scope, user_suites: set[str]) -> list[Utilisation]:
    """Utilisation exports of user suites (``user_suites``, or an unregistered suite family) are the user scope's."""
    def user(u: Utilisation) -> bool:
        return u.suite in user_suites or not is_registered_suite(_suite_family(u.suite))
    return [u for u in utilisation if user(u) == (scope == "user")]
