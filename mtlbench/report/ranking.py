"""The overall ranking: a pure function of the suites' results."""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from .order import model_key
from .schema import REFERENCE, SuiteResult


def ranking(suites: list[SuiteResult]) -> tuple[list[dict[str, Any]], list[str]]:
    """Overall ranking: within each suite, models are ranked by their mean test score (SPEC.md §2's
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
