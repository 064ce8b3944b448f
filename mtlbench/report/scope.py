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


def record_in_scope(r: dict[str, Any], scope: Scope) -> dict[str, Any] | None:
    """The record as ``scope`` sees it (only the labels that belong to it), or None when none does. A user
    suite's record belongs to the user scope with every label; a registered suite's record belongs to the
    official scope with its labels without overrides and to the user scope with its override labels."""
    labels = list(r.get("params_sources") or [r["params_source"]])
    if not is_registered_suite(str(r.get("suite_family") or "")):
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


def studies_in_scope(studies: list[Study], scope: Scope, user_suites: set[str]) -> list[Study]:
    """Studies of registered suites belong to the official scope; those of user suites (by family, or named in
    ``user_suites``) to the user scope."""
    def official(st: Study) -> bool:
        return bool(st.suite) and st.suite not in user_suites and is_registered_suite(_suite_family(st.suite))
    return [st for st in studies if official(st) == (scope == "official")]


def utilisation_in_scope(utilisation: list[Utilisation], scope: Scope) -> list[Utilisation]:
    return [u for u in utilisation if is_registered_suite(_suite_family(u.suite)) == (scope == "official")]
