"""The "Reproduce" block: the exact commands that give the compared records (torch-free: which instances
`--suite FAMILY` stands for comes from ``mtlbench.metadata``)."""
from __future__ import annotations

import shlex
from collections import defaultdict

from ...metadata import suite_meta
from ...names import format_instance, parse_instance
from ...profiles import Profile, get_profile
from ..load import is_tuned, study_suite
from ..order import model_key, suite_key
from ..schema import Report


#: The install command, as the README's "Two commands on a fresh machine" gives it.
INSTALL = "pip install -c constraints-ci.txt ."


def family_instances(family: str, profile: Profile) -> list[str]:
    """The instances `--suite FAMILY` runs for ``profile`` (``SuiteMeta.points``; the family itself when it
    declares none)."""
    return list(dict.fromkeys(format_instance(family, p) for p in suite_meta(family).instance_params(profile)))


def _suite_args(suites: list[str], profile: str, files: dict[str, str] | None = None) -> str:
    """``--suite`` options for these instances; a family whose every profile point is present is named once;
    a suite read from a user suite file (``files``: suite -> path) is given as ``--suite-file PATH``."""
    prof = get_profile(profile)
    files = files or {}
    fams: dict[str, list[str]] = defaultdict(list)
    for s in sorted(suites, key=suite_key):
        if s not in files:
            fams[parse_instance(s)[0]].append(s)
    args: list[str] = []
    for fam, inst in fams.items():
        args.extend([fam] if sorted(family_instances(fam, prof)) == sorted(inst) else inst)
    return " ".join([*(f"--suite {shlex.quote(a)}" for a in args),
                     *(f"--suite-file {shlex.quote(files[s])}" for s in sorted(suites, key=suite_key) if s in files)])


def _grouped(per_suite: dict[str, tuple]) -> list[tuple[tuple, list[str]]]:
    """Suites grouped by what is run on them (one command per group), in suite order."""
    groups: dict[tuple, list[str]] = {}
    for suite in sorted(per_suite, key=suite_key):
        groups.setdefault(per_suite[suite], []).append(suite)
    return list(groups.items())


def _commands(rep: Report) -> list[str]:
    """The commands that reproduce the compared records (one ``run`` per group of suites that ran the
    same models with the same number of seeds)."""
    P = rep.profile
    cmds = [INSTALL]
    files = {r["suite"]: str(r["suite_params"]["suite_file"]) for r in rep.records
             if isinstance(r.get("suite_params"), dict) and r["suite_params"].get("suite_file")}
    tuned: dict[str, set[str]] = defaultdict(set)
    for r in rep.records:
        suite = study_suite(r["params_source"])
        if suite:  # the suite the study was tuned on (a sweep point may borrow another point's study)
            tuned[suite].add(r["model"])
    if tuned:
        budgets = sorted({s.budget for s in rep.studies if s.budget})
        trials = f" --trials {budgets[-1]}" if budgets else ""
        for models, suites in _grouped({s: tuple(sorted(m, key=model_key)) for s, m in tuned.items()}):
            cmds.append(f"mtlbench tune {' '.join(models)} {_suite_args(suites, P)}{trials} --profile {P}")
    # every compared run at defaults: say so (studies may exist by the time someone re-runs the command)
    best = " --params-from default" if not any(is_tuned(r["params_source"]) for r in rep.records) else ""
    for variant, suites_ in ((best, rep.suites), (" --params-from default", rep.default_suites or [])):
        per_suite = {s.suite: (tuple(m.model for m in s.models), max(len(m.seeds) for m in s.models)) for s in suites_}
        for (models, n_seeds), suites in _grouped(per_suite):
            cmds.append(f"mtlbench run {' '.join(models)} {_suite_args(suites, P, files)} --seeds {n_seeds} --profile {P}{variant}")
    if rep.utilisation:
        per_suite = {u.suite: () for u in rep.utilisation}
        for models in sorted({tuple(u.model for u in rep.utilisation if u.suite == s) for s in per_suite}):
            us = [s for s in per_suite if tuple(u.model for u in rep.utilisation if u.suite == s) == models]
            cmds.append(f"mtlbench utilisation {' '.join('--model ' + m for m in models)} {_suite_args(us, P)} --profile {P}")
    for w in rep.weightings:  # the architecture × weighting runs, at the parameters the suite tables compare
        archs = list(dict.fromkeys(p.architecture for p in w.pairs))
        strategies = [x for x in dict.fromkeys(p.weighting for p in w.pairs) if x != "static"]
        n_seeds = max(len(p.result.seeds) for p in w.pairs)
        cmds.append(f"mtlbench run {' '.join(archs)} {_suite_args([w.suite], P, files)} "
                    f"{' '.join('--weighting ' + x for x in strategies)} --seeds {n_seeds} --profile {P}")
    e = rep.experiment
    if e is not None and e.correlations:
        cmds.append(f"mtlbench experiment mmoe-synthetic --runs {max(e.runs.values())} --profile {P}")
    cmds.append(f"mtlbench report --profile {P}")
    return cmds
