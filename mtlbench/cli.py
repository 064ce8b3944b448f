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
    """Progress bars for runs: one line per (suite/model/seed), epochs with the current val score."""

    def __init__(self, total_runs: int):
        self.bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err_console, transient=False)
        self.total_runs = total_runs
        self.overall = None
        self.current = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.overall is not None:
            self.bar.__exit__(*exc)

    def start(self, label: str, epochs: int) -> None:
        if self.overall is None:  # shown from the first trained run on: errors before it print alone
            self.bar.__enter__()
            self.overall = self.bar.add_task("runs", total=self.total_runs)
        self.current = self.bar.add_task(label, total=epochs)

    def epoch(self, epoch: int, score: float) -> None:
        desc = self.bar.tasks[self.current].description.split("  val")[0]
        self.bar.update(self.current, advance=1, description=f"{desc}  val score {score:.4f}")

    def end(self) -> None:
        self.bar.update(self.current, visible=False)
        self.bar.advance(self.overall)


@app.command("run")
def run_cmd(
    models: Annotated[Optional[list[str]], typer.Argument(help="Models to run (default with --all: every model).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every registered model on every suite.")] = False,
    suite: SuiteOpt = None,
    seeds: Annotated[Optional[int], typer.Option("--seeds", help="Seeds per run (default: the profile's).")] = None,
    profile: ProfileOpt = "quick",
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda")] = "auto",
    force: Annotated[bool, typer.Option("--force", help="Re-run records that already exist.")] = False,
    results_dir: ResultsOpt = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a hyper-parameter, e.g. --set lr=0.003 --set n_experts=4.")] = None,
) -> None:
    """Train models on suites over seeds; finished runs are skipped, so an interrupted run resumes."""
    from .model import list_models
    from .params import parse_overrides
    from .profiles import get_profile
    from .runner import run
    from .suites import expand_suites

    if not models and not all_:
        raise MtlbenchError("name the models to run, or pass --all for every registered model.")
    prof = get_profile(profile)
    n_runs = len(expand_suites(suite, prof)) * len(models or list_models()) * (seeds or prof.seeds)
    with _RichProgress(n_runs) as progress:
        summary = run(models or None, suite, seeds, profile, device, force, results_dir, progress=progress,
                      overrides=parse_overrides(set_))
    console.print(f"[bold]{len(summary.done)}[/] trained, {len(summary.skipped)} already done, "
                  f"{len(summary.failed)} failed  (profile {profile}).")
    for label, reason in summary.failed:
        console.print(Text(f"  failed {label}: {reason}", style="red"))
    if summary.failed:
        raise typer.Exit(1)


@app.command("status")
def status_cmd(
    models: Annotated[Optional[list[str]], typer.Argument(help="Models to show (default: all).")] = None,
    profile: ProfileOpt = "quick",
    results_dir: ResultsOpt = None,
    suite: SuiteOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="One line per (suite, model, seed).")] = False,
) -> None:
    """Which (suite, model, seed) runs of a profile are done, failed or missing."""
    from collections import Counter

    from .runner import status

    rows = status(profile, results_dir, models=models or None, suites=suite)
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
                console.print(Text(f"{r['state']:8} {r['suite']}/{r['model']}/seed{r['seed']} {r['reason']}"))
    total = Counter(r["state"] for r in rows)
    console.print(f"profile {profile}: {total['done']} done, {total['failed']} failed, {total['missing']} missing")


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
