"""The leaderboard's header: what was run, on what, at which cost (from the compared records)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

from ...profiles import get_profile
from ...records import hardware_spelling
from ..format import md_table
from ..convergence import run_protocol
from ..load import is_tuned, study_suite
from ..order import suite_key
from ..schema import REFERENCE, Report
from ..select import STATIC, newest_key, run_identity, weighting_of


def header_table(rep: Report) -> str:
    """The two-column table under the title."""
    prof = get_profile(rep.profile)
    recs = rep.records
    newest = max(recs, key=newest_key)
    seeds = sorted({int(r["seed"]) for r in recs})
    per_run = sorted({len(m.seeds) for s in rep.suites for m in s.models})
    n_tuned = sum(is_tuned(r["params_source"]) for r in recs)
    if rep.studies:
        budgets = sorted({s.budget for s in rep.studies if s.budget} or {s.finished for s in rep.studies})
        pruners = sorted({s.pruner for s in rep.studies if s.pruner})
        rules = sorted({s.param_budget_rule for s in rep.studies if s.param_budget_rule})
        refs = sorted({s.reference_rule for s in rep.studies if s.reference_rule})
        how = "; ".join([f"TPE sampler, {' / '.join(pruners)} pruning on the validation score (next row), pruned trials count"]
                        * bool(pruners) + [f"parameter budget {' / '.join(rules)}"] * bool(rules) + refs)
        budget = (f"{' / '.join(map(str, budgets))} trials per (model, suite) study, the same for every model"
                  + (f" ({how})" if how else "") + f"; {len(rep.studies)} stud{'y' if len(rep.studies) == 1 else 'ies'}; "
                  f"{n_tuned} of {len(recs)} compared runs use tuned parameters")
    elif n_tuned:
        budget = f"{n_tuned} of {len(recs)} compared runs use tuned parameters (no study export found)"
    else:
        budget = "none: every run uses the models' default hyper-parameters"
    header = [
        ["profile", f"{rep.profile}; the records' training protocol is in the next row (the profile's current "
                    f"rules: {prof.description})"],
        ["protocol", _protocols(rep)],
        ["seeds", f"{'–'.join(map(str, [per_run[0], per_run[-1]])) if len(per_run) > 1 else per_run[0]} per (suite, model); "
                  f"seed ids {', '.join(map(str, seeds))}"],
        ["tuning budget", budget],
        *([["tuning rules", rules_row]] if (rules_row := _tuning_rules(rep, seeds)) else []),
        *([["borrowed tuning", lent]] if (lent := _borrowed(recs)) else []),
        ["hardware", _hardware(recs)],
        ["versions", _versions(recs)],
        ["commit", _commits(rep)],
        *([["reproduced", _reproduced(rep)]] if rep.reproductions else []),
        ["date", f"{newest['timestamp']} (newest record)"],
        ["runs compared", f"{len(recs)} of {len(rep.all_records)} records; {len(rep.suites)} suites; "
                          f"{len({r['model'] for r in recs})} models"],
        ["compute", _compute(rep)],
    ]
    return md_table(["", ""], header)


def _tuning_rules(rep: Report, eval_seeds: list[int]) -> str:
    """Per tuning protocol: how many studies, the pruning rule they recorded, how many trials were pruned for
    ``single_task`` and for the other models (the same rule for every model shows in these counts), and the
    trials' training seed (whether it is one of the evaluation seeds)."""
    groups: dict[int, list[Any]] = defaultdict(list)
    for st in rep.studies:
        groups[st.protocol].append(st)
    parts = []
    for protocol in sorted(groups, reverse=True):
        sts = groups[protocol]
        rule = (" / ".join(sorted({st.pruning_rule for st in sts if st.pruning_rule}))
                or "no pruning rule recorded (studies made before the tuning rules)")
        lows = sorted({st.min_steps for st in sts if st.min_steps is not None})
        if lows:
            rule += f" (min_steps {' / '.join(map(str, lows))})"
        single = [st for st in sts if st.model == REFERENCE]
        other = [st for st in sts if st.model != REFERENCE]
        pruned = "; pruned trials: " + ", ".join(
            f"{who} {sum(st.pruned for st in group)} of {sum(st.finished for st in group)}"
            for who, group in ((f"`{REFERENCE}`", single), ("multi-task models", other)) if group)
        seeds = sorted({st.tuning_seed for st in sts if st.tuning_seed is not None})
        seed = ""
        if seeds:
            shared = [x for x in seeds if x in eval_seeds]
            seed = (f"; every trial trains seed {' / '.join(map(str, seeds))}, "
                    + (f"which is also evaluation seed {' / '.join(map(str, shared))}" if shared
                       else "not an evaluation seed"))
        parts.append(f"tuning protocol {protocol} ({len(sts)} stud{'y' if len(sts) == 1 else 'ies'}): {rule}{pruned}{seed}")
    return "; ".join(parts)


def _runs(rep: Report) -> list[dict[str, Any]]:
    """Every run behind the report's tables: the compared records and the default-parameter ones, once each."""
    return list({run_identity(r): r for r in rep.records + rep.default_records}.values())


def _protocols(rep: Report) -> str:
    """The training protocol(s) the records were trained under, from their own fields (``convergence``)."""
    counts: dict[str, int] = defaultdict(int)
    for r in _runs(rep):
        counts[run_protocol(r).schedule] += 1
    text = "; ".join(f"{k} ({v} run{'s' * (v != 1)})" for k, v in sorted(counts.items()))
    return text + "; early stopping on the validation score (see *Convergence and protocol*)"


def _mixed_suites(records: list[dict[str, Any]], of: Callable[[dict[str, Any]], str]) -> list[str]:
    """"`suite` (a, b)" for each suite (in suite order) whose records take several values of ``of``."""
    by_suite: dict[str, set[str]] = defaultdict(set)
    for r in records:
        by_suite[r["suite"]].add(of(r))
    return [f"`{s}` ({', '.join(sorted(v))})" for s, v in sorted(by_suite.items(), key=lambda kv: suite_key(kv[0]))
            if len(v) > 1]


def _newest_first(records: list[dict[str, Any]]) -> list[str]:
    """The records' commits, the one of the newest record first."""
    newest: dict[str, str] = {}
    for r in sorted(records, key=newest_key):
        newest[r["commit"]] = str(r.get("timestamp", ""))
    return sorted(newest, key=lambda c: newest[c], reverse=True)


def _commits(rep: Report) -> str:
    """Every commit that produced the compared records (newest first), the suites whose records come from
    several commits, the architecture × weighting runs' commits and the experiment's commits."""
    runs = _runs(rep)
    commits = _newest_first(runs)
    out = commits[0] if len(commits) == 1 else f"records span {len(commits)} commits, newest first: {', '.join(commits)}"
    if mixed := _mixed_suites(runs, lambda r: r["commit"]):
        out += f"; suites whose records come from several commits: {'; '.join(mixed)}"
    shown = {run_identity(r) for r in runs}
    if strategy_runs := [r for r in rep.all_records if weighting_of(r) != STATIC and run_identity(r) not in shown]:
        out += f"; architecture × weighting runs: {', '.join(_newest_first(strategy_runs))}"
    if rep.experiment is not None and rep.experiment.commits:
        out += f"; MMoE synthetic experiment: {', '.join(rep.experiment.commits)}"
    return out


def _reproduced(rep: Report) -> str:
    """The saved reproduction checks (``mtlbench reproduce --save``) per (record commit, re-running commit,
    device): how many records, and the largest test-metric difference, i.e. the measured cross-commit drift."""
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for c in rep.reproductions:
        groups[(c.record_commit, c.commit, c.device)].append(c)
    parts = []
    for (made, rerun, device), checks in sorted(groups.items()):
        worst = max(c.max_diff for c in checks)
        where = "at the same commit" if made == rerun else f"at {rerun}"
        suites = ", ".join(f"`{s}`" for s in sorted({c.suite for c in checks}, key=suite_key))
        parts.append(f"{len(checks)} record{'s' * (len(checks) != 1)} of {made} ({suites}) re-run {where} on {device}: "
                     f"largest test-metric difference {worst:.2g}" + (" (bit-identical)" if worst == 0 else ""))
    return "`mtlbench reproduce KEY --save`: " + "; ".join(parts)


def _hardware(records: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for r in records:
        hw = r.get("extra", {}).get("hardware") if isinstance(r.get("extra"), dict) else None
        threads = r.get("threads", "?")
        desc = hardware_spelling(hw) if hw else f"{r.get('device', '?')}, {threads} thread{'' if threads == 1 else 's'}"
        counts[desc] += 1
    out = "; ".join(f"{k} ({v} run{'' if v == 1 else 's'})" for k, v in sorted(counts.items()))
    # benchmarks/README.md, GPU figures: the same key on CPU and CUDA agrees to rounding, not bitwise
    if mixed := _mixed_suites(records, lambda r: str(r.get("device", "?")).split(":")[0]):  # cpu, cuda, ...
        out += (f"; suites trained on several kinds of device: {'; '.join(mixed)} (CPU and GPU training of the same "
                "configuration and seed agree to float rounding, not bitwise; early stopping can end an epoch apart)")
    return out


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def _compute(rep: Report) -> str:
    """Total compute behind the profile: training time of every record plus every tuning trial."""
    trained = list({r["key"]: r for r in rep.all_records}.values())  # one training per record key, whatever its labels
    train = sum(float(r.get("train_seconds") or 0.0) for r in trained)
    threads = sorted({int(r.get("threads") or 0) for r in rep.all_records} - {0})
    out = f"{_hours(train)} of training summed over {len(trained)} runs"
    if len(trained) < len(rep.all_records):
        n = len(rep.all_records) - len(trained)
        out += (f" ({n} more record{'s' * (n != 1)} reuse an identical earlier training: the same parameters and seed "
                "on the same machine, under another parameter source)")
    if rep.studies:
        n = sum(s.timed for s in rep.studies)
        dead = sum(s.untimed_dead for s in rep.studies)
        untimed = f"; {dead} trial{'s' if dead != 1 else ''} of killed workers not timed" if dead else ""
        out += f" + {_hours(sum(s.seconds for s in rep.studies))} summed over {n} tuning trials (pruned and failed included{untimed})"
    return out + (f"; {'/'.join(map(str, threads))} CPU thread{'s' if threads != [1] else ''} per run" if threads else "")


def _versions(records: list[dict[str, Any]]) -> str:
    vals: dict[str, set[str]] = defaultdict(set)
    for r in records:
        for k, v in (r.get("versions") or {}).items():
            vals[k].add(str(v))
    return ", ".join(f"{k} {' / '.join(sorted(v))}" for k, v in sorted(vals.items()))


def _borrowed(recs: list[dict[str, Any]]) -> str | None:
    """Which suites ran at parameters tuned on another suite (sweep points without a study of their own take
    the nearest tuned point's: ``tuning.nearest_sweep_summary``), grouped by the suite tuned; None if none."""
    lenders: dict[str, set[str]] = defaultdict(set)
    for r in recs:
        tuned_on = study_suite(r["params_source"])
        if tuned_on and tuned_on != r["suite"]:
            lenders[tuned_on].add(r["suite"])
    if not lenders:
        return None
    groups = [f"{', '.join(f'`{b}`' for b in sorted(lenders[s], key=suite_key))} ← `{s}`"
              for s in sorted(lenders, key=suite_key)]
    return ("suites without a study of their own run at the parameters tuned on the nearest sweep point "
            "(per model): " + "; ".join(groups))
