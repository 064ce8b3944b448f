"""The `mtlbench` command line (typer + rich). User errors print one line and exit 2."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .errors import MtlbenchError
from .provenance import RunId
from .registry import did_you_mean

app = typer.Typer(help="Benchmark multi-task learning models against single-task ones, tuned fairly.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
list_app = typer.Typer(help="List registered models, suites and profiles.", no_args_is_help=True)
app.add_typer(list_app, name="list")
console = Console()
err_console = Console(stderr=True)
STATE = {"debug": False}

ProfileOpt = Annotated[str, typer.Option("--profile", "-p", help="quick | standard")]
ResultsOpt = Annotated[Optional[Path], typer.Option("--results-dir", help="Where records live (default: ./results or $MTLBENCH_RESULTS).")]
SuiteOpt = Annotated[Optional[list[str]], typer.Option("--suite", "-s", help="Suite or instance, e.g. synthetic[p=0.5]; repeatable. Default: all.")]


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks for errors.")] = False) -> None:
    STATE["debug"] = debug or bool(os.environ.get("MTLBENCH_DEBUG"))


# ------------------------------------------------------------------------ list
@list_app.command("models")
def list_models_cmd(pattern: Annotated[Optional[str], typer.Argument(help="Glob filter, e.g. '*moe*'.")] = None) -> None:
    """Registered models (glob filter)."""
    from .model import get_model_class, list_models

    table = Table("model", "description")
    for name in list_models(pattern):
        doc = (get_model_class(name).__module__ and sys.modules[get_model_class(name).__module__].__doc__ or "").strip()
        table.add_row(Text(name), Text(doc.split("\n")[0]))
    console.print(table)


@list_app.command("suites")
def list_suites_cmd(
    pattern: Annotated[Optional[str], typer.Argument(help="Glob filter on suite names.")] = None,
    profile: ProfileOpt = "quick",
) -> None:
    """Registered suites and the instances (sweep points) a profile runs."""
    from .profiles import get_profile
    from .suites import expand_suites, get_family, list_suites

    prof = get_profile(profile)
    table = Table("suite", "version", f"instances ({prof.name})", "description")
    for name in list_suites(pattern):
        fam = get_family(name)
        table.add_row(Text(name), fam.version, Text(" ".join(expand_suites([name], prof))), Text(fam.description))
    console.print(table)


@list_app.command("profiles")
def list_profiles_cmd() -> None:
    """Run profiles."""
    from .profiles import PROFILES

    table = Table("profile", "seeds", "epoch cap", "description")
    for p in PROFILES.values():
        table.add_row(p.name, str(p.seeds), str(p.max_epochs), p.description)
    console.print(table)


# ------------------------------------------------------------------------ run
class _RichProgress:
    """Progress bars for runs: an overall bar, and one line per run in training (suite/model/seed) with its
    epochs and current val score. With worker processes (``--jobs``) each worker draws on its own ``lane``."""

    def __init__(self, total_runs: int):
        self.bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err_console, transient=False)
        self.total_runs = total_runs
        self.overall = None
        self.skipped = 0  # runs skipped before the bars were shown
        self.main = _RunLine(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.overall is not None:
            self.bar.__exit__(*exc)

    def show(self) -> None:
        if self.overall is None:  # shown from the first trained run on: errors before it print alone
            self.bar.__enter__()
            self.overall = self.bar.add_task("runs", total=self.total_runs, completed=self.skipped)

    def lane(self, worker: int) -> _RunLine:
        """The progress of one worker process (``mtlbench.parallel``)."""
        return _RunLine(self)

    def start(self, label: str, epochs: int) -> None:
        self.main.start(label, epochs)

    def epoch(self, epoch: int, score: float) -> None:
        self.main.epoch(epoch, score)

    def end(self, runs: int = 1) -> None:
        self.main.end(runs)

    def skip(self, runs: int = 1) -> None:
        """Runs that already exist (or another process trains) count as done, so the bar ends at 100 %."""
        if self.overall is None:
            self.skipped += runs
        else:
            self.bar.advance(self.overall, runs)


class _RunLine:
    """The line of the run one process trains right now (the progress protocol of ``runner.run``)."""

    def __init__(self, bars: _RichProgress):
        self.bars, self.current = bars, None

    def start(self, label: str, epochs: int) -> None:
        self.bars.show()
        self.current = self.bars.bar.add_task(label, total=epochs)

    def epoch(self, epoch: int, score: float) -> None:
        bar = self.bars.bar
        desc = bar.tasks[self.current].description.split("  val")[0]
        bar.update(self.current, advance=1, description=f"{desc}  val score {score:.4f}")

    def end(self, runs: int = 1) -> None:
        self.bars.bar.update(self.current, visible=False)
        self.bars.bar.advance(self.bars.overall, runs)

    def skip(self, runs: int = 1) -> None:
        self.bars.skip(runs)


JobsOpt = Annotated[Optional[int], typer.Option("--jobs", "-j", help="Worker processes (default: enough to keep every core busy: cores / threads per run; 1 on CUDA).")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", help="Torch threads per run (default: $OMP_NUM_THREADS, else cores / --jobs, else 1). A record stores its thread count; CPU results are reproducible per thread count.")]
ExecutorOpt = Annotated[str, typer.Option("--executor", help="local (worker processes on this machine) | ray (tasks on a Ray cluster: pip install 'mtlbench[ray]').")]
RayAddressOpt = Annotated[Optional[str], typer.Option("--ray-address", help="Address of a running Ray cluster for --executor ray (default: $RAY_ADDRESS, else 'auto').")]


@app.command("run")
def run_cmd(
    models: Annotated[Optional[list[str]], typer.Argument(help="Models to run (default with --all: every model).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every registered model on every suite.")] = False,
    suite: SuiteOpt = None,
    suite_file: Annotated[Optional[list[Path]], typer.Option("--suite-file", help="A user suite TOML file (see tasks/examples/example_suite.toml); repeatable. Without --suite, only these suites run.")] = None,
    seeds: Annotated[Optional[int], typer.Option("--seeds", help="Seeds per run (default: the profile's).")] = None,
    profile: ProfileOpt = "quick",
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda")] = "auto",
    force: Annotated[bool, typer.Option("--force", help="Re-run records that already exist.")] = False,
    results_dir: ResultsOpt = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a hyper-parameter, e.g. --set lr=0.003 --set n_experts=4.")] = None,
    params_from: Annotated[Optional[str], typer.Option("--params-from", help="Tuned params: a profile whose studies to use, a study JSON, a params JSON, or 'default'. Default: this profile's studies (mtlbench tune) when they exist, else defaults.")] = None,
    jobs: JobsOpt = None,
    threads: ThreadsOpt = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Train models on suites over seeds; finished runs are skipped, so an interrupted run resumes."""
    from .parallel import choose_layout, run_local
    from .params import parse_overrides
    from .profiles import get_profile
    from .runner import resolve_device, resolve_models
    from .suites import expand_suites
    from .tasks.user_file import with_suite_files
    from .tuning import StudyParams

    if not models and not all_:
        raise MtlbenchError("name the models to run, or pass --all for every registered model.")
    prof = get_profile(profile)
    every_suite = with_suite_files(suite, suite_file)  # registers (and checks) the user's suite files
    n_runs = len(expand_suites(every_suite, prof)) * len(resolve_models(models or None)) * (seeds or prof.seeds)
    layout = choose_layout(jobs, threads, resolve_device(device).type)
    args = dict(force=force, results_dir=results_dir, overrides=parse_overrides(set_), params=StudyParams(params_from, results_dir),
                suite_files=suite_file)
    with _RichProgress(n_runs) as progress:
        if _executor(executor) == "ray":
            from .ray_executor import run_ray

            summary = run_ray(ray_address, choose_layout(None, threads).threads, models or None, suite, seeds, profile, device, progress=progress, **args)
        else:
            summary = run_local(layout, models or None, suite, seeds, profile, device, progress=progress, **args)
    labelled = (f", {len(summary.labelled)} already trained under another parameter source (label added)"
                if summary.labelled else "")
    console.print(f"[bold]{len(summary.done)}[/] trained{labelled}, {len(summary.skipped)} already done, "
                  f"{len(summary.failed)} failed  (profile {profile}).")
    for label, reason in summary.failed:
        console.print(Text(f"  failed {label}: {reason}", style="red"))
    if summary.done or summary.skipped or summary.labelled:
        _report_after_run(profile, results_dir)
    if summary.failed:
        raise typer.Exit(1)


def _executor(name: str) -> str:
    if name not in ("local", "ray"):
        raise did_you_mean("executor", name, ["local", "ray"])
    return name


# ------------------------------------------------------------------------ tune
@app.command("tune")
def tune_cmd(
    models: Annotated[Optional[list[str]], typer.Argument(help="Models to tune (with --all: every model).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every registered model on every suite of the profile.")] = False,
    suite: SuiteOpt = None,
    trials: Annotated[Optional[int], typer.Option("--trials", "-n", help="Trials per (model, suite) study, the same for every model (default: quick 4, standard 40). Running again continues up to this count.")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Start no new trial after this many seconds.")] = None,
    profile: ProfileOpt = "quick",
    storage: Annotated[Optional[str], typer.Option("--storage", help="postgresql://USER:PASS@HOST/DB to share studies between workers (or sqlite:///F.db, journal:FILE). Default: a journal file per study under results/<profile>/studies/.")] = None,
    multi_objective: Annotated[bool, typer.Option("--multi-objective", help="One objective per task (Pareto front) instead of the validation score.")] = False,
    pruner: Annotated[str, typer.Option("--pruner", help="hyperband | halving | median | none (on the per-epoch validation score).")] = "hyperband",
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda")] = "auto",
    results_dir: ResultsOpt = None,
    sampler_seed: Annotated[Optional[int], typer.Option("--sampler-seed", help="Seed of the TPE sampler (default: random; give each worker its own). With --jobs N, worker i uses this + i.")] = None,
    jobs: JobsOpt = None,
    threads: ThreadsOpt = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Tune hyper-parameters on validation with an equal budget per model; `run` then uses the best ones."""
    from .parallel import choose_layout, tune_local
    from .runner import resolve_device

    if not models and not all_:
        raise MtlbenchError("name the models to tune, or pass --all for every registered model.")

    def progress(ev) -> None:
        value = ("-" if ev.value is None else f"{ev.value:.4f}" if isinstance(ev.value, float)
                 else "(" + ", ".join(f"{v:.4f}" for v in ev.value) + ")")
        note = f"  [{ev.reason}]" if ev.reason else ""
        err_console.print(Text(f"{ev.study}  trial {ev.number} {ev.state.lower()} {value}  {ev.counted}/{ev.target}{note}"),
                          soft_wrap=True)

    args = dict(models=models or None, suites=suite, n_trials=trials, timeout=timeout, profile=profile, storage=storage,
                multi_objective=multi_objective, pruner=pruner, device=device, results_dir=results_dir)
    if _executor(executor) == "ray":
        from .ray_executor import tune_ray

        summaries = tune_ray(ray_address, jobs, choose_layout(None, threads).threads, args, sampler_seed)
    else:
        summaries = tune_local(choose_layout(jobs, threads, resolve_device(device).type), args, sampler_seed, progress,
                               notify=lambda msg: err_console.print(Text(msg), soft_wrap=True))
    _print_tuning(summaries)


def _fmt_params(params: dict) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(params.items()))


def _print_tuning(summaries: list[dict]) -> None:
    from .model import get_model_class

    table = Table("model", "suite", "trials", "epoch cap", "param budget", "best trial", "val objective", "defaults",
                  title="Best trials (validation only; single_task: each task's own best trial; "
                        "defaults: the reference trial's objective)")
    lines, fronts = [], []
    for s in summaries:
        b = s["budget"]
        row = [Text(s["model"]), Text(s["suite"]), f"{s['n_counted']}/{b['n_trials']}", str(b["max_epochs"]), str(b["param_budget"])]
        best = s["best"]
        if s["multi_objective"]:
            fronts.append(s)
            table.add_row(*row, f"Pareto front: {len(s['pareto_front'])} trials", "-", "-")
        elif best is None:
            table.add_row(*row, "none yet", "-", "-")
        else:
            ref = s.get("reference") or {}
            is_ref = ref.get("number") == best["number"]
            table.add_row(*row, f"#{best['number']}" + (" (defaults)" if is_ref else ""), f"{best['value']:.4f}",
                          f"{ref['value']:.4f}" if ref.get("value") is not None else "-")
            what = "the defaults (reference trial)" if is_ref else _fmt_params(best["params"])
            lines.append(Text(f"{s['model']} @ {s['suite']} #{best['number']}: {what}"))
            if get_model_class(s["model"]).independent_tasks:  # `run` trains each task with its own best trial
                for p in s["per_task_best"]:
                    table.add_row("", Text(f"task {p['task']}"), "", "", "", f"#{p['number']}", f"{p['score']:.4f}", "")
    console.print(table)
    for line in lines:
        console.print(line, soft_wrap=True)
    for s in fronts:
        front = Table("trial", *[f"{t} (-log err)" for t in s["task_names"]], title=Text(f"Pareto front of {s['study']}"))
        for t in s["pareto_front"]:
            front.add_row(f"#{t['number']}", *[f"{v:.4f}" for v in t["values"]])
        console.print(front)
        for t in s["pareto_front"]:
            console.print(Text(f"#{t['number']}: {_fmt_params(t['params'])}"), soft_wrap=True)


@app.command("status")
def status_cmd(
    models: Annotated[Optional[list[str]], typer.Argument(help="Models to show (default: all).")] = None,
    profile: ProfileOpt = "quick",
    results_dir: ResultsOpt = None,
    suite: SuiteOpt = None,
    suite_file: Annotated[Optional[list[Path]], typer.Option("--suite-file", help="A user suite TOML file; repeatable. Without --suite, only these suites are shown.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="One line per (suite, model, seed).")] = False,
) -> None:
    """Which (suite, model, seed) runs of a profile are done, failed or missing."""
    from collections import Counter

    from .runner import status
    from .tasks.user_file import with_suite_files

    rows = status(profile, results_dir, models=models or None, suites=with_suite_files(suite, suite_file))
    table = Table("suite", "model", "done", "failed", "missing")
    per: dict[tuple[str, str], Counter] = {}
    for r in rows:
        per.setdefault((r["suite"], r["model"]), Counter())[r["state"]] += 1
    for (s, m), c in per.items():
        table.add_row(Text(s), Text(m), str(c["done"]), str(c["failed"]), str(c["missing"]))
    console.print(table)
    if verbose:
        for r in rows:
            if r["state"] != "done":
                console.print(Text(f"{r['state']:8} {RunId(r['suite'], r['model'], r['seed'])} {r['reason']}"))
    total = Counter(r["state"] for r in rows)
    console.print(f"profile {profile}: {total['done']} done, {total['failed']} failed, {total['missing']} missing")


@app.command("reproduce")
def reproduce_cmd(
    key: Annotated[str, typer.Argument(help="A record key (at least its first 6 characters).")],
    profile: ProfileOpt = "quick",
    results_dir: ResultsOpt = None,
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda (use the record's device for exact results)")] = "cpu",
    tolerance: Annotated[float, typer.Option("--tolerance", help="Largest accepted |difference| of a test metric.")] = 1e-9,
) -> None:
    """Re-run one record from its stored config, seed and data checksum, and compare the test metrics."""
    from .runner import reproduce

    out = reproduce(key, profile, results_dir, device)
    rec = out["record"]
    table = Table("task", "metric", "recorded", "reproduced", "|diff|",
                  title=Text(f"{rec['suite']} / {rec['model']} / seed {rec['seed']}  (record {rec['key']})"))
    for r in out["rows"]:
        table.add_row(r["task"], r["metric"], f"{r['recorded']:.6f}", f"{r['reproduced']:.6f}", f"{r['diff']:.2e}")
    console.print(table)
    if not out["same_setup"]:
        console.print(f"note: the record was made on {rec['device']}; float results differ across devices.")
    worst = max(r["diff"] for r in out["rows"])
    if worst > tolerance:
        console.print(f"not reproduced: largest difference {worst:.2e} > tolerance {tolerance:g}")
        raise typer.Exit(1)
    console.print("reproduced.")


# ------------------------------------------------------------------------ report
def _print_report(files) -> None:
    console.print(Text(f"leaderboard: {files.markdown}"), soft_wrap=True)
    if files.html is not None:
        console.print(Text(f"interactive charts: {files.html}" + (f" (+ {len(files.images)} PNG)" if files.images else "")), soft_wrap=True)
    if files.notice:
        err_console.print(Text(files.notice), soft_wrap=True)


def _report_after_run(profile: str, results_dir: Optional[Path]) -> None:
    """`run` ends with the profile's report; a report problem never hides the finished runs."""
    from .report import generate

    try:
        _print_report(generate(profile, results_dir))
    except MtlbenchError as err:
        err_console.print(Text(f"report not written: {err}"), soft_wrap=True)
    except Exception as err:  # noqa: BLE001 - the records are safe; say what broke and how to retry
        err_console.print(Text(f"report not written ({err.__class__.__name__}: {err}); retry with `mtlbench report --profile {profile}`."),
                          soft_wrap=True)


AnyProfileOpt = Annotated[Optional[str], typer.Option("--profile", "-p", help="quick | standard (default: every profile that has records)")]


@app.command("report")
def report_cmd(
    profile: AnyProfileOpt = None,
    results_dir: ResultsOpt = None,
    no_charts: Annotated[bool, typer.Option("--no-charts", help="Only the markdown (no HTML, no images).")] = False,
    no_static: Annotated[bool, typer.Option("--no-static", help="HTML charts only: skip PNG export (needs a browser).")] = False,
) -> None:
    """Write the profile's leaderboard (seesaw tables, ranking, paper references) and its charts.

    The standard profile writes the top-level leaderboard.md (next to the results folder); other profiles
    write results/<profile>/leaderboard.md. Charts go to results/<profile>/charts/ (report.html, PNGs)."""
    from .report import generate, profiles_with_records

    for p in [profile] if profile else profiles_with_records(results_dir):
        _print_report(generate(p, results_dir, charts=not no_charts, static=not no_static))


@app.command("leaderboard")
def leaderboard_cmd(
    check: Annotated[bool, typer.Option("--check", help="Fail (exit 1) when a leaderboard file differs from what the records give.")] = False,
    profile: AnyProfileOpt = None,
    results_dir: ResultsOpt = None,
) -> None:
    """Print the leaderboard markdown regenerated from the records, or --check the committed file(s)
    (no charts, no browser: the markdown only)."""
    from .report import build_report, chart_link_prefix, check as check_file, profiles_with_records, render_markdown

    profiles = [profile] if profile else profiles_with_records(results_dir)
    if not check:
        for p in profiles:
            sys.stdout.write(render_markdown(build_report(p, results_dir), chart_link_prefix(p, results_dir)))
        return
    failed = False
    for p in profiles:
        ok, message = check_file(p, results_dir)
        (console if ok else err_console).print(Text(message), soft_wrap=True)
        failed |= not ok
    if failed:
        raise typer.Exit(1)


@app.command("utilisation")
def utilisation_cmd(
    profile: ProfileOpt = "quick",
    suite: SuiteOpt = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="mmoe | ml_mmoe | cgc | ple (repeatable). Default: all four.")] = None,
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda")] = "auto",
    seed: Annotated[int, typer.Option("--seed", help="Training seed of the fixed configuration.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Measure again even when an export of the same data exists.")] = False,
    results_dir: ResultsOpt = None,
) -> None:
    """Expert utilisation of the gated models in SPEC.md §4's fixed configuration (default suites: video,
    census_income), stored under results/<profile>/utilisation/ for `mtlbench report`."""
    from .utilisation import run as run_utilisation

    paths = run_utilisation(profile, suite, model, results_dir, device, seed, force, log=lambda m: err_console.print(Text(m)))
    console.print(f"{len(paths)} utilisation export(s) written; `mtlbench report --profile {profile}` draws them.")


EXPERIMENTS = ("mmoe-synthetic",)


@app.command("experiment")
def experiment_cmd(
    name: Annotated[str, typer.Argument(help="mmoe-synthetic: the MMoE paper's repeated-runs synthetic experiment.")],
    runs: Annotated[Optional[int], typer.Option("--runs", help="Repeated runs per (model, correlation); default 60.")] = None,
    shard: Annotated[str, typer.Option("--shard", help="i/n: train every n-th missing run starting at i (one per process).")] = "0/1",
    profile: ProfileOpt = "standard",
    device: Annotated[str, typer.Option("--device", help="cpu | cuda")] = "cpu",
    results_dir: ResultsOpt = None,
) -> None:
    """Run a paper's own experiment (results under results/<profile>/experiments/; resumable; the report draws it)."""
    from .experiments import mmoe_synthetic as E

    if name not in EXPERIMENTS:
        raise did_you_mean("experiment", name, list(EXPERIMENTS))
    try:
        i, n = (int(x) for x in shard.split("/"))
        if not 0 <= i < n:
            raise ValueError
    except ValueError:
        raise MtlbenchError(f"cannot read --shard {shard!r}; write i/n with 0 <= i < n, e.g. --shard 0/2.") from None
    setup = E.Setup(runs=runs) if runs is not None else E.Setup()
    trained = E.run(setup, profile, results_dir, (i, n), device, log=lambda m: err_console.print(Text(m)))
    console.print(f"{trained} run(s) trained; results in {E.out_dir(profile, results_dir)}")


def main() -> None:
    try:
        app()
    except MtlbenchError as err:
        if STATE["debug"]:
            raise
        err_console.print(f"error: {err}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted: finished records are kept; run the same command again to resume.")
        sys.exit(130)


if __name__ == "__main__":
    main()
