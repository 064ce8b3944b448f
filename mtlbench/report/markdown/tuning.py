"""The tuning section: one row per Optuna study, and the tuning charts."""
from __future__ import annotations

from typing import Any

from ..format import code, fnum, md_table
from ..schema import Report


def _render_studies(rep: Report, chart_prefix: str, specs: list[Any]) -> list[str]:
    rows = []
    for st in rep.studies:
        best = (max if st.direction.startswith("max") else min)((v for _, v in st.values), default=None)
        pareto = st.direction == "pareto"
        model = code(st.model or "?") + ("" if st.weighting == "static" else f" ({code(st.weighting)})")
        rows.append([model, code(st.suite) if st.suite else "–", st.name, str(st.budget or "–"),
                     str(st.finished), str(st.pruned), str(st.trained_epochs) if st.trained_epochs is not None else "–",
                     "Pareto front" if pareto else fnum(best, 4),
                     "–" if pareto or st.reference is None else fnum(st.reference[1], 4), st.kept_defaults])
    uses = [st.kept_defaults for st in rep.studies if st.reference is not None]
    weighted = (" A loss weighting in brackets after the model marks a study of that strategy (`mtlbench tune "
                "--weighting`); the tuning charts and the comparison of architectures use the static weighting's "
                "studies only." if any(st.weighting != "static" for st in rep.studies) else "")
    out = ["## Tuning", "",
           "Optuna studies (validation objective only; the test split is never used for tuning). **best trial**: the "
           "best validation objective of the searched trials; **defaults**: that of the study's reference trial (the "
           "model's default configuration, trained to the end, not counted in the budget); **run uses**: whose "
           "parameters the tuned runs take (`mixed`: single_task's tasks chose differently); **trained epochs**: epochs "
           "trained over all the study's trials, the reference included (the study's own count, or one per "
           "intermediate value the trials reported), so equal compute per model is visible." + weighted, "",
           md_table(["model", "suite", "study", "budget", "finished trials", "pruned", "trained epochs", "best trial",
                     "defaults", "run uses"],
                    rows, ["left", "left", "left", "right", "right", "right", "right", "right", "right", "left"]), ""]
    if uses:
        mixed = f", {uses.count('mixed')} mixed" if "mixed" in uses else ""
        out += [f"Of the {len(uses)} studies with a reference trial, {uses.count('search')} chose a searched trial "
                f"and {uses.count('defaults')} kept the defaults{mixed}.", ""]
    for sp in specs:
        out += [f"{sp.caption}", "", f"![{sp.title}]({chart_prefix}/{sp.name}.png)", ""]
    return out
