"""The overall ranking: a pure function of the suites' results."""
from __future__ import annotations

import math
import warnings
from collections import defaultdict
from typing import Any

import numpy as np

from .order import model_key
from .schema import REFERENCE, SuiteResult
from .uncertainty import Friedman, friedman, rank_draws, rng_for


def ranking(suites: list[SuiteResult]) -> tuple[list[dict[str, Any]], list[str]]:
    """Overall ranking: within each suite, models are ranked by their mean test score (docs/protocol.md §2's
    − mean log error, on test); a sweep family is one family (its points' ranks are averaged);
    the overall rank is the mean over families. Rows: model, mean_rank, per_family, beats, seesaw."""
    from scipy.stats import rankdata

    fam_ranks: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    beats: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    seesaw: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    families: list[str] = []
    for s in suites:
        fam = s.family if s.is_sweep else s.suite
        if fam not in families:
            families.append(fam)
        scores = [m.score if math.isfinite(m.score) else -math.inf for m in s.models]  # no score (NaN): last
        for m, r in zip(s.models, rankdata([-x for x in scores], method="average")):
            fam_ranks[m.model][fam].append(float(r))
            if s.reference is not None and m.model != REFERENCE:
                beats[m.model][fam].append(m.beats)
                seesaw[m.model][fam].append(m.seesaw)
    rows = []
    for model in sorted(fam_ranks, key=model_key):
        per = {f: float(np.mean(v)) for f, v in fam_ranks[model].items()}
        rows.append({"model": model, "mean_rank": float(np.mean(list(per.values()))), "per_family": per,
                     "beats": dict(beats[model]), "seesaw": dict(seesaw[model])})
    rows.sort(key=lambda r: (r["mean_rank"], model_key(r["model"])))
    return rows, families


def family_of(s: SuiteResult) -> str:
    """The block a suite counts in: its family for a sweep, else the suite itself."""
    return s.family if s.is_sweep else s.suite


def overall_friedman(suites: list[SuiteResult], withheld: set[str] = frozenset()) -> tuple[Friedman, list[str]]:
    """The Friedman test of the overall ranking: blocks = suite families (a family's rank of a model = mean of
    its ranks over the family's instances), suites in ``withheld`` left out; only models ranked in every
    remaining family take part. Returns the test and the models left out for missing families."""
    rows, families = ranking([s for s in suites if s.suite not in withheld])
    full = [r for r in rows if len(r["per_family"]) == len(families)]
    table = np.array([[r["per_family"][f] for r in full] for f in families], dtype=float).reshape(len(families), len(full))
    return friedman(table, [r["model"] for r in full]), [r["model"] for r in rows if r not in full]


def mean_rank_draws(suites: list[SuiteResult], models: list[str], draws: int, tag: str) -> np.ndarray:
    """[draws, len(models)] overall mean ranks (``ranking``'s rule: mean over families of the mean rank over
    a family's instances) when every (suite, model)'s seeds are resampled (``uncertainty.rank_draws``; the
    generator of a suite is seeded from its name and ``tag``). A model absent from a family is averaged over
    the families it has."""
    per_family: dict[str, list[np.ndarray]] = defaultdict(list)
    for s in suites:
        r = rank_draws([m.scores for m in s.models], draws, rng_for(s.suite, tag))  # [draws, k]
        full = np.full((draws, len(models)), np.nan)
        for j, m in enumerate(s.models):
            if m.model in models:
                full[:, models.index(m.model)] = r[:, j]
        per_family[family_of(s)].append(full)
    with warnings.catch_warnings():  # a model absent from a whole family: NaN there, by design
        warnings.simplefilter("ignore", RuntimeWarning)
        fam = np.stack([np.nanmean(np.stack(v), axis=0) for v in per_family.values()])  # [families, draws, models]
        return np.nanmean(fam, axis=0)
