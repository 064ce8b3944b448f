"""The `mtlbench` command line (typer + rich). User errors print one line and exit 2."""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from .fsio import finished
from .errors import MtlbenchError
from .provenance import RunId
from .registry import did_you_mean

app = typer.Typer(help="Benchmark multi-task learning models against single-task ones, tuned fairly.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
list_app = typer.Typer(help="List registered models, suites and profiles.", no_args_is_help=True)
app.add_typer(list_app, name="list")
#: Width of output that goes to a file or pipe (a terminal's own width is used where there is one;
#: $COLUMNS overrides both), so tables are not cut at 80 columns in logs.
PIPE_WIDTH = 200


def _console(stderr: bool = False) -> Console:
    c = Console(stderr=stderr)
    if not c.is_terminal and "COLUMNS" not in os.environ:
        c = Console(stderr=stderr, width=PIPE_WIDTH)
    return c


console = _console()
err_console = _console(stderr=True)
STATE = {"debug": False}

#: Keep in step with ``mtlbench.profiles.DEFAULT_PROFILE`` (tests/test_cli.py checks it).
DEFAULT_PROFILE = "quick"
ProfileOpt = Annotated[str, typer.Option("--profile", "-p", help="quick | standard")]
ResultsOpt = Annotated[Optional[Path], typer.Option("--results-dir", help="Where records live (default: ./results or $MTLBENCH_RESULTS).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda")]
SuiteOpt = Annotated[Optional[list[str]], typer.Option("--suite", "-s", help="Suite or instance, e.g. synthetic[p=0.5]; repeatable. Default: all.")]
SuiteFileOpt = Annotated[Optional[list[Path]], typer.Option("--suite-file", help="A user suite TOML file (see tasks/examples/example_suite.toml); repeatable. Without --suite, only these suites.")]
MlflowOpt = Annotated[Optional[str], typer.Option("--mlflow", is_flag=False, flag_value="mlruns", metavar="[URI]",
                                                  help="Log to MLflow (pip install 'mtlbench\\[mlflow]'): a tracking URI or folder; --mlflow alone: ./mlruns.")]


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


@list_app.command("weightings")
def list_weightings_cmd(pattern: Annotated[Optional[str], typer.Argument(help="Glob filter, e.g. '*grad*'.")] = None) -> None:
    """Registered loss-weighting strategies (glob filter): `mtlbench run MODEL --weighting NAME`."""
    from .weighting import get_weighting, list_weightings

    table = Table("weighting", "kind", "description")
    for name in list_weightings(pattern):
        cls = get_weighting(name)
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().split("\n")[0]
        table.add_row(Text(name), "gradient" if cls.gradient_based else "loss", Text(doc))
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
        caps = ", ".join(f"{family} {cap}" for family, cap in p.epoch_caps)
        table.add_row(p.name, str(p.seeds), f"{p.max_epochs}" + (f" ({caps})" if caps else ""), p.description)
    console.print(table)


# ------------------------------------------------------------------------ run
class _RichProgress:
    """Progress bars for runs: an overall bar, and one line per run in training (suite/model/seed) with its
    epochs and current val score. With worker processes (``--jobs``) each worker draws on its own ``lane``."""

    def __init__(self, total_runs: int):
        self.bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(bar_width=None if err_console.width > 100 else 20),
                            MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(compact=True),
                            console=err_console, transient=False, expand=False)
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
ExecutorOpt = Annotated[str, typer.Option("--executor", help="local (worker processes on this machine) | ray (tasks on a Ray cluster: pip install 'mtlbench\\[ray]').")]
RayAddressOpt = Annotated[Optional[str], typer.Option("--ray-address", help="Address of a running Ray cluster for --executor ray (default: $RAY_ADDRESS, else 'auto').")]


@app.command("run")
def run_cmd(
    models: Annotated[Optional[list[str]], typer.Argument(help="Models to run (default with --all: every model).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every registered model on every suite.")] = False,
    suite: SuiteOpt = None,
    suite_file: SuiteFileOpt = None,
    seeds: Annotated[Optional[int], typer.Option("--seeds", help="Seeds per run (default: the profile's).")] = None,
    profile: ProfileOpt = "quick",
    device: DeviceOpt = "auto",
    force: Annotated[bool, typer.Option("--force", help="Re-run records that already exist.")] = False,
    results_dir: ResultsOpt = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a hyper-parameter, e.g. --set lr=0.003 --set n_experts=4.")] = None,
    params_from: Annotated[Optional[str], typer.Option("--params-from", help="Tuned params: a profile whose studies to use, a study JSON, a params JSON, or 'default'. Default: this profile's studies (mtlbench tune) when they exist, else defaults.")] = None,
    weighting: Annotated[Optional[list[str]], typer.Option("--weighting", "-w", help="Loss-weighting strategy (mtlbench list weightings), repeatable; '*' runs every one. Parameters: the model's study of that strategy (mtlbench tune --weighting) when it exists, else the static study's with the strategy at its paper defaults (the params source then ends in +weighting:NAME). Default: static.")] = None,
    mlflow: MlflowOpt = None,
    jobs: JobsOpt = None,
    threads: ThreadsOpt = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Train models on suites over seeds; finished runs are skipped, so an interrupted run resumes.

    Ends with a table of the test metrics and writes the report: the leaderboard for the registered suites, a
    separate report under results/<profile>/user/ for --suite-file suites and --set runs."""
    from .api import run
    from .params import parse_overrides
    from .profiles import get_profile
    from .records import RecordStore
    from .runner import resolve_models
    from .suites import expand_suites
    from .tasks.user_file import with_suite_files
    from .tuning import StudyParams
    from .weighting import list_weightings

    if not models and not all_:
        raise MtlbenchError("name the models to run, or pass --all for every registered model.")
    prof = get_profile(profile)
    instances = expand_suites(with_suite_files(suite, suite_file), prof)  # registers (and checks) the user's suite files
    overrides = parse_overrides(set_)
    n_weightings = len(list_weightings()) if weighting and "*" in weighting else len(weighting or [None])
    n_runs = len(instances) * len(resolve_models(models or None)) * (seeds or prof.seeds) * n_weightings
    store = RecordStore(prof.name, results_dir)
    before = _record_count(store)
    try:
        with _RichProgress(n_runs) as progress:
            summary = run(models or None, suite, seeds, profile, device, force, results_dir, progress=progress,
                          overrides=overrides, params=StudyParams(params_from, results_dir), suite_files=suite_file,
                          mlflow=mlflow, weightings=weighting, jobs=jobs, threads=threads, executor=_executor(executor),
                          ray_address=ray_address)
    except KeyboardInterrupt:
        _interrupted_run(store, before)
        raise typer.Exit(130) from None
    labelled = (f", {len(summary.labelled)} already trained under another parameter source (label added)"
                if summary.labelled else "")
    _print_run_metrics(summary.keys, prof.name, results_dir)
    console.print(f"[bold]{len(summary.done)}[/] trained{labelled}, {len(summary.skipped)} already done, "
                  f"{len(summary.failed)} failed  (profile {profile}).")
    if summary.not_applicable:
        console.print(Text(f"not applicable, not run: {'; '.join(summary.not_applicable)}"), soft_wrap=True)
    for label, reason in summary.failed:
        console.print(Text(f"  failed {label}: {reason}", style="red"))
    if summary.done or summary.skipped or summary.labelled:
        _report_after_run(profile, results_dir, _report_scopes(instances, bool(overrides)))
    if summary.failed:
        raise typer.Exit(1)


def _record_count(store) -> int:
    return len(finished(store.records_dir))


def _resume_command() -> str:
    return shlex.join(["mtlbench", *sys.argv[1:]]) if sys.argv[1:] else "the same command"


def _interrupted_run(store, before: int) -> None:
    """What Ctrl-C leaves: finished records, the checkpoint of the run in training, and how to go on."""
    n = _record_count(store) - before
    err_console.print(Text(
        f"interrupted: {n} record(s) finished by this command and every earlier one are kept in {store.records_dir}; "
        f"the run that was training keeps its last per-epoch checkpoint ({store.dir / 'ckpt'}) and continues from it. "
        f"Resume with: {_resume_command()}"), soft_wrap=True)


def _report_scopes(instances: list[str], overrides: bool) -> list[str]:
    """Which reports a run changes: the leaderboard only for registered suites without --set, the user report
    for user suites and --set runs (so a run of your own data never rewrites the leaderboard)."""
    from .metadata import is_registered_suite
    from .names import parse_instance

    registered = [is_registered_suite(parse_instance(i)[0]) for i in instances]
    scopes = []
    if any(registered) and not overrides:
        scopes.append("official")
    if overrides or not all(registered):
        scopes.append("user")
    return scopes


def _print_run_metrics(keys: list[str], profile: str, results_dir: Optional[Path]) -> None:
    """The test metrics of the requested runs that have a record: mean ± std over seeds per (suite, model) and
    task, and the gain over single_task where it ran too."""
    from .results import records_by_key, summarise_runs

    rows = summarise_runs(records_by_key(keys, profile, results_dir))
    if not rows:
        return
    n_tasks = max(len(r.tasks) for r in rows)
    narrow = console.width < 100
    table = Table("suite", "model", "seeds", *[f"task {k + 1}" for k in range(n_tasks)],
                  title="Test metrics (mean ± std over seeds; gain: over single_task, positive = better)",
                  title_justify="left", expand=False)
    for r in rows:
        cells = []
        for t in r.tasks:
            arrow = "↑" if t.higher_is_better else "↓"
            text = f"{t.task} {t.metric}{arrow} {t.mean:.4f}" + (f" ± {t.std:.4f}" if t.std is not None else "")
            if t.gain is not None:
                text += f"{chr(10) if narrow else '  '}gain {t.gain:+.4f}"
            cells.append(Text(text))
        table.add_row(Text(r.suite), Text(r.model), str(r.seeds), *cells, *[""] * (n_tasks - len(cells)))
    console.print(table)


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
    suite_file: SuiteFileOpt = None,
    trials: Annotated[Optional[int], typer.Option("--trials", "-n", help="Trials per (model, suite) study, the same for every model (default: quick 4, standard 40; the leaderboard's protocol uses 20). Running again continues up to this count.")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Start no new trial after this many seconds.")] = None,
    profile: ProfileOpt = "quick",
    storage: Annotated[Optional[str], typer.Option("--storage", help="postgresql://USER:PASS@HOST/DB to share studies between workers (or sqlite:///F.db, journal:FILE). Default: a journal file per study under results/<profile>/studies/.")] = None,
    multi_objective: Annotated[bool, typer.Option("--multi-objective", help="One objective per task (Pareto front) instead of the validation score.")] = False,
    pruner: Annotated[str, typer.Option("--pruner", help="hyperband | halving | median | none (on the validation score after each validation; the same rule for every model, never before patience + 1 validations).")] = "hyperband",
    device: DeviceOpt = "auto",
    results_dir: ResultsOpt = None,
    sampler_seed: Annotated[Optional[int], typer.Option("--sampler-seed", help="Seed of the TPE sampler (default: random; give each worker its own). With --jobs N, worker i uses this + i.")] = None,
    weighting: Annotated[Optional[list[str]], typer.Option("--weighting", "-w", help="Loss-weighting strategy (mtlbench list weightings), repeatable; '*' every one. Each gets its own study (e.g. ple@video@standard+uw) searching the model's space plus the strategy's hyper-parameters, with the same trial budget; `run --weighting` then uses it. Default: static.")] = None,
    mlflow: MlflowOpt = None,
    jobs: JobsOpt = None,
    threads: ThreadsOpt = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Tune hyper-parameters on validation with an equal budget per model; `run` then uses the best ones.

    With --weighting NAME, one study per model and loss-weighting strategy; `run MODEL --weighting NAME` uses it
    (without one: the static study's parameters with the strategy at its paper defaults)."""
    from .api import tune

    if not models and not all_:
        raise MtlbenchError("name the models to tune, or pass --all for every registered model.")

    def progress(ev) -> None:
        value = ("-" if ev.value is None else f"{ev.value:.4f}" if isinstance(ev.value, float)
                 else "(" + ", ".join(f"{v:.4f}" for v in ev.value) + ")")
        note = f"  [{ev.reason}]" if ev.reason else ""
        err_console.print(Text(f"{ev.study}  trial {ev.number} {ev.state.lower()} {value}  {ev.counted}/{ev.target}{note}"),
                          soft_wrap=True)

    try:
        summaries = tune(models or None, suite, trials, timeout, profile, storage, multi_objective, pruner, device,
                         results_dir, sampler_seed, progress, notify=lambda msg: err_console.print(Text(msg), soft_wrap=True),
                         suite_files=suite_file, mlflow=mlflow, jobs=jobs, threads=threads, executor=_executor(executor),
                         ray_address=ray_address, weightings=weighting)
    except KeyboardInterrupt:
        err_console.print(Text(f"interrupted: finished trials are kept in the studies (results/{profile}/studies/ or "
                               f"--storage); the trial that was running is retried. Resume with: {_resume_command()}"),
                          soft_wrap=True)
        raise typer.Exit(130) from None
    _print_tuning(summaries)


def _model_label(model: str, weighting: str | None) -> str:
    """A model as tables name it: ``ple``, or ``ple (uw)`` with a loss weighting other than static."""
    return model if weighting in (None, "static") else f"{model} ({weighting})"


def _fmt_params(params: dict) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(params.items()))


def _print_tuning(summaries: list[dict]) -> None:
    from .model import get_model_class

    wide = console.width >= 110  # a narrow terminal leaves out the budget columns (the same for every model)
    table = Table("model", "suite", "trials", *(["epoch cap", "param budget"] if wide else []), "best trial", "val objective", "defaults",
                  title="Best trials (validation only; single_task: each task's own best trial; "
                        "defaults: the reference trial's objective)", title_justify="left")
    lines, fronts = [], []
    for s in summaries:
        b = s["budget"]
        row = [Text(_model_label(s["model"], s.get("weighting"))), Text(s["suite"]), f"{s['n_counted']}/{b['n_trials']}",
               *([str(b["max_epochs"]), str(b["param_budget"])] if wide else [])]
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
            lines.append(Text(f"{_model_label(s['model'], s.get('weighting'))} @ {s['suite']} #{best['number']}: {what}"))
            if get_model_class(s["model"]).independent_tasks:  # `run` trains each task with its own best trial
                for p in s["per_task_best"]:
                    table.add_row("", Text(f"task {p['task']}"), "", *([""] * (2 * wide)), f"#{p['number']}", f"{p['score']:.4f}", "")
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
    suite_file: SuiteFileOpt = None,
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
        per.setdefault((r["suite"], _model_label(r["model"], r.get("weighting"))), Counter())[r["state"]] += 1
    for (s, m), c in per.items():
        table.add_row(Text(s), Text(m), str(c["done"]), str(c["failed"]), str(c["missing"]))
    console.print(table)
    if verbose:
        for r in rows:
            if r["state"] != "done":
                w = "" if r.get("weighting", "static") == "static" else f" ({r['weighting']})"
                console.print(Text(f"{r['state']:8} {RunId(r['suite'], r['model'], r['seed'])}{w} {r['reason']}"))
    total = Counter(r["state"] for r in rows)
    console.print(f"profile {profile}: {total['done']} done, {total['failed']} failed, {total['missing']} missing")


@app.command("reproduce")
def reproduce_cmd(
    key: Annotated[str, typer.Argument(help="A record key (at least its first 6 characters).")],
    profile: ProfileOpt = "quick",
    results_dir: ResultsOpt = None,
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda (use the record's device for exact results)")] = "cpu",
    tolerance: Annotated[float, typer.Option("--tolerance", help="Largest accepted |difference| of a test metric.")] = 1e-9,
    suite_file: Annotated[Optional[list[Path]], typer.Option("--suite-file", help="The user suite TOML of the record when it moved (the record keeps its path); repeatable.")] = None,
    save: Annotated[bool, typer.Option("--save", help="Keep the check under results/<profile>/reproductions/: the report's header states how far each commit reproduces the records of another.")] = False,
) -> None:
    """Re-run one record from its stored config, seed and data checksum, and compare the test metrics."""
    from .api import reproduce

    out = reproduce(key, profile, results_dir, device, suite_files=suite_file, save=save)
    rec = out["record"]
    table = Table("task", "metric", "recorded", "reproduced", "|diff|",
                  title=Text(f"{rec['suite']} / {rec['model']} / seed {rec['seed']}  (record {rec['key']})"))
    for r in out["rows"]:
        table.add_row(r["task"], r["metric"], f"{r['recorded']:.6f}", f"{r['reproduced']:.6f}", f"{r['diff']:.2e}")
    console.print(table)
    if not out["same_setup"]:
        console.print(f"note: the record was made on {rec['device']}; float results differ across devices.")
    if "saved" in out:
        console.print(Text(f"check saved: {out['saved']}"), soft_wrap=True)
    worst = max(r["diff"] for r in out["rows"])
    if worst > tolerance:
        console.print(f"not reproduced: largest difference {worst:.2e} > tolerance {tolerance:g}")
        raise typer.Exit(1)
    console.print("reproduced.")


# ------------------------------------------------------------------------ report
def _print_report(files) -> None:
    what = "your suites' report" if files.markdown.parent.name == "user" else "leaderboard"
    console.print(Text(f"{what}: {files.markdown}"), soft_wrap=True)
    if files.html is not None:
        console.print(Text(f"interactive charts: {files.html}" + (f" (+ {len(files.images)} PNG)" if files.images else "")), soft_wrap=True)
    if files.notice:
        err_console.print(Text(files.notice), soft_wrap=True)


def _report_after_run(profile: str, results_dir: Optional[Path], scopes: list[str]) -> None:
    """`run` ends with the profile's reports of ``scopes``; a report problem never hides the finished runs."""
    from .report import generate_all

    try:
        for files in generate_all(profile, results_dir, scopes=scopes):
            _print_report(files)
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
    suite_file: Annotated[Optional[list[Path]], typer.Option("--suite-file", help="User suite TOML files to check first; repeatable.")] = None,
) -> None:
    """Write the profile's leaderboard (seesaw tables, ranking, paper references) and its charts.

    The standard profile writes the top-level leaderboard.md (next to the results folder); other profiles
    write results/<profile>/leaderboard.md. Charts go to results/<profile>/charts/ (report.html, PNGs).
    Records of user suites (--suite-file) and of --set runs never enter the leaderboard: they get their own
    report, results/<profile>/user/leaderboard.md with charts in results/<profile>/user/charts/."""
    from .api import report

    for files in report(profile, results_dir, charts=not no_charts, static=not no_static, suite_files=suite_file):
        _print_report(files)


@app.command("leaderboard")
def leaderboard_cmd(
    check: Annotated[bool, typer.Option("--check", help="Fail (exit 1) when a leaderboard file differs from what the records give.")] = False,
    profile: AnyProfileOpt = None,
    results_dir: ResultsOpt = None,
) -> None:
    """Print the leaderboard markdown regenerated from the records, or --check the committed file(s)
    (no charts, no browser: the markdown only)."""
    from .report import build_report, chart_link_prefix, check as check_file, profiles_with_records, render_markdown

    if profile:
        profiles = [profile]
    else:
        profiles_with_records(results_dir)  # no record at all: the one-line error
        try:
            profiles = profiles_with_records(results_dir, scope="official")
        except MtlbenchError:
            console.print("no records of the registered suites: there is no leaderboard to check (user suites and "
                          "--set runs have their own report, results/<profile>/user/).")
            return
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
    device: DeviceOpt = "auto",
    seed: Annotated[int, typer.Option("--seed", help="Training seed of the fixed configuration.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Measure again even when an export of the same data exists.")] = False,
    results_dir: ResultsOpt = None,
    suite_file: SuiteFileOpt = None,
) -> None:
    """Expert utilisation of the gated models in docs/protocol.md §5's fixed configuration (default suites: video,
    census_income), stored under results/<profile>/utilisation/ for `mtlbench report` (user suites: in the
    user report)."""
    from .api import register_suite_files
    from .utilisation import run as run_utilisation

    suite = register_suite_files(suite, suite_file)
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


# ------------------------------------------------------------------------ export / compare
@app.command("export")
def export_cmd(
    profile: AnyProfileOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv | parquet")] = "csv",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write results.<format> and histories.<format> to.")] = Path("export"),
    results_dir: ResultsOpt = None,
) -> None:
    """Export records as tables: results.<format> (one row per record and task: test and validation metrics,
    cost, provenance) and histories.<format> (one row per record, evaluation and task), long format."""
    from .api import export

    for path in export(profile, fmt, out, results_dir):
        console.print(Text(f"wrote {path}"), soft_wrap=True)


@app.command("compare")
def compare_cmd(
    key_a: Annotated[str, typer.Argument(help="First record key (at least 6 characters).")],
    key_b: Annotated[str, typer.Argument(help="Second record key.")],
    profile: AnyProfileOpt = None,
    results_dir: ResultsOpt = None,
) -> None:
    """Compare two records: the configuration that differs and each task's test metric, B − A with its
    standard error (test-set SEs combined) and, where both hold paired bootstrap replicates of the same test
    data, the paired 95 % interval."""
    from .api import compare

    c = compare(key_a, key_b, profile, results_dir)
    a, b = c.a, c.b
    console.print(Text(f"A {a['key']}: {a['suite']} / {a['model']} / seed {a['seed']} ({a['params_source']})"), soft_wrap=True)
    console.print(Text(f"B {b['key']}: {b['suite']} / {b['model']} / seed {b['seed']} ({b['params_source']})"), soft_wrap=True)
    cfg = Table("field", "A", "B", title="Configuration that differs", title_justify="left")
    for name, va, vb in c.config:
        cfg.add_row(Text(name), Text(repr(va)), Text(repr(vb)))
    console.print(cfg if c.config else Text("Same configuration."))
    table = Table("task", "metric", "A", "B", "B − A", "± SE", "paired 95 % interval", title="Test metrics", title_justify="left")
    for m in c.metrics:
        arrow = "↑" if m.higher_is_better else "↓"
        table.add_row(Text(m.task), f"{m.metric}{arrow}", f"{m.a:.5f}", f"{m.b:.5f}", f"{m.diff:+.5f}",
                      f"{m.se:.5f}" if m.se is not None else "–",
                      f"[{m.paired[0]:+.5f}, {m.paired[1]:+.5f}]" if m.paired else "–")
    console.print(table)
    if not c.metrics:
        console.print("the records share no task; nothing to compare.")
    if c.paired_note:
        console.print(Text(c.paired_note), soft_wrap=True)


def main() -> None:
    try:
        app()
    except MtlbenchError as err:
        if STATE["debug"]:
            raise
        err_console.print(f"error: {err}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        err_console.print(Text(f"interrupted: finished records, trials and exports are kept; resume with: {_resume_command()}"),
                          soft_wrap=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
